"""Grading workers for a cohort: Dask workers that grade one submission per task with the sandbox and verdict process.

:func:`start` gives a ``dask.distributed`` client: an embedded ``LocalCluster`` of ``workers`` processes (one per
core by default, one thread each) or, with ``scheduler="tcp://host:8786"``, an existing cluster whose workers
run the same installed course. Each worker imports the grading engine and nbgrader's scoring rule once, when it
starts (:class:`Warm`), and forks from two zygotes (:mod:`mlcasebook.grading.zygote`) that hold the scientific stack:
each submission gets a sandboxed kernel and a verdict process of its own, forked pre-imported for it and killed
after it, so it pays for its own cells and tests, not for imports. The embedded cluster's workers share the two
zygotes their parent started; a remote cluster's workers start their own.

A task carries everything it needs as text (the submission, the instructor's source notebook, its release), so a
worker on another machine grades exactly the instructor's version, and returns plain data (:func:`grade_task`).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import asdict

from distributed.diagnostics.plugin import WorkerPlugin

#: imported once per worker: the grading engine and nbgrader's scoring rule (the scientific stack is the zygotes')
WARM_MODULES = ("mlcasebook.grading.api", "nbgrader.utils", "nbclient")


def skip_unused_imports() -> None:
    """Call before nbformat's first import. jsonschema (under nbformat) imports ``rfc3987_syntax`` for its "iri"
    format where it is installed, and that module builds a grammar as it is imported: 0.9 s of each worker's and
    of the command's start, measured, for a format no notebook schema uses. Grading processes only (never the
    learner's kernel): without it the format goes unchecked, as jsonschema does where the library is missing."""
    sys.modules.setdefault("rfc3987_syntax", None)


def warm_up(shared: dict | None = None) -> float:
    """Start this worker's zygotes (or fork from ``shared`` ones, :func:`mlcasebook.grading.zygote.shared`) and,
    while they import the scientific stack, import the grading engine here; return the seconds until all three are
    ready. Where the zygotes cannot start, gradings start cold."""
    import importlib

    from mlcasebook.grading import zygote

    started = time.perf_counter()
    skip_unused_imports()
    os.environ.setdefault("MPLBACKEND", "Agg")
    zygote.enable()
    if shared:
        zygote.attach(shared)
    for kind in (zygote.KERNEL, zygote.VERDICT):
        zygote.get(kind, wait=False)
    for name in WARM_MODULES:
        importlib.import_module(name)
    _raise_open_file_limit()
    for kind in (zygote.KERNEL, zygote.VERDICT):
        zygote.get(kind)
    return time.perf_counter() - started


def _raise_open_file_limit() -> None:
    """A long-lived worker grades hundreds of notebooks; each leaves a few descriptors with pyzmq/asyncio
    (8 measured): lift the soft limit to the hard one so a cohort never meets 'Too many open files'."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 16, hard))
        except (ValueError, OSError):
            pass


class Warm(WorkerPlugin):
    """Warms every worker when it joins (``client.register_plugin(Warm())``), on a LocalCluster or a remote one;
    with ``shared``, the workers of this machine fork from the zygotes their parent started."""

    name = "mlcasebook-warm"
    idempotent = True

    def __init__(self, shared: dict | None = None):
        self.shared = shared

    def setup(self, worker=None):
        warm_up(self.shared)

    def teardown(self, worker=None):
        from mlcasebook.grading import zygote

        zygote.stop_all()


def dask_setup(worker=None) -> None:
    """``dask worker ... --preload mlcasebook.grading.pool``: warm the worker as it starts, so the first
    ``mlcasebook autograde`` on a long-lived cluster grades at once (the command's :class:`Warm` then finds it done)."""
    warm_up()


def peak_rss_mb() -> tuple[float, float, float]:
    """Peak resident memory of this worker, of the largest kernel it ran (a cold one it waited for, or a warm one
    read before it was killed) and of its zygotes together, in MB (a fork shares the zygote's pages until it
    writes to them, so the sum over-counts)."""
    from mlcasebook.grading import execute, zygote

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cold = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    kernel = max(cold, execute.warm_kernel_peak_kb / 1024)
    return round(own, 1), round(kernel, 1), round(zygote.resident_kb() / 1024, 1)


def grade_task(task: dict) -> dict:
    """Grade one submission. ``task``: student, notebook, submission/source/release (notebook JSON text),
    timeout, memory_mb, sandbox, hide. Returns the executed notebook (JSON text), the parts, notes, the sandbox
    used, seconds and peak memory, or ``error``: one sentence saying why this submission could not be graded."""
    import nbformat

    from mlcasebook.grading.api import grade_notebook
    from mlcasebook.grading.execute import GradingAborted
    from mlcasebook.grading.nbgrader_plugin import verdict_outputs
    from mlcasebook.grading.read import GradingInputError
    from mlcasebook.grading.rebuild import TEST, grade_id, kind_of

    started = time.perf_counter()
    result = {"student": task["student"], "notebook": task["notebook"]}
    try:
        try:
            learner = nbformat.reads(task["submission"], as_version=4)
        except Exception as exc:  # not JSON, not a notebook: the learner's file is corrupt
            raise GradingInputError(f"the submitted file is not a readable notebook ({type(exc).__name__})") from None
        source = nbformat.reads(task["source"], as_version=4)
        release = nbformat.reads(task["release"], as_version=4) if task.get("release") else None
        executed, parts, notes, mechanism = grade_notebook(
            learner, None, timeout=task["timeout"], memory_mb=task["memory_mb"], sandbox_kind=task.get("sandbox"),
            hide=tuple(task.get("hide", ())), source_nb=source, release_nb=release)
    except (GradingInputError, GradingAborted) as exc:
        result["error"] = str(exc)
        return result
    except Exception as exc:  # never stop the cohort for one submission; say what happened in one line
        result["error"] = f"grading failed with {type(exc).__name__}: {str(exc)[:300]}"
        return result
    by_part = {p.grade_id: p for p in parts}
    for cell in executed.cells:
        gid = grade_id(cell)
        if gid in by_part and kind_of(cell) == TEST:
            cell.outputs = verdict_outputs(cell, by_part[gid])
            cell.execution_count = None
    own, kernel, zygotes = peak_rss_mb()
    result.update(executed=nbformat.writes(executed), parts=[asdict(p) for p in parts], notes=notes,
                  sandbox=mechanism, seconds=round(time.perf_counter() - started, 3), worker_pid=os.getpid(),
                  worker_peak_mb=own, kernel_peak_mb=kernel, zygotes_mb=zygotes)
    return result


def prestart() -> dict:
    """Start the zygotes every worker of the embedded cluster will fork from, without waiting for them (they import
    while the command reads the gradebook and the cluster starts); return where they are. One pair for the
    machine: each worker starting its own imported the stack four times on two cores, 6.5 s before the first
    grading."""
    from mlcasebook.grading import zygote

    skip_unused_imports()
    zygote.enable()
    for kind in (zygote.KERNEL, zygote.VERDICT):
        zygote.get(kind, wait=False)
    return zygote.shared()


def start(workers: int | None = None, scheduler: str | None = None, memory_mb: int = 2048):
    """A Dask client: on ``scheduler``, or on an embedded LocalCluster of ``workers`` single-threaded processes."""
    import logging

    from dask.distributed import Client, LocalCluster

    shared = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        shared = prestart()
        n = workers or os.cpu_count() or 1
        # processes, one thread each: a worker grades one notebook at a time, its kernel is its own process.
        # No memory limit from Dask: the sandbox limits each kernel (memory_mb) and the verdict process itself.
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=0, silence_logs=logging.ERROR)
        client = Client(cluster)
    client.register_plugin(Warm(shared))
    return client


def describe(client) -> str:
    info = client.scheduler_info()
    return f"{len(info.get('workers', {}))} worker(s) at {info.get('address', '?')}"
