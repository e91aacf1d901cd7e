"""The test suite's time today and projected to the full curriculum (`make bench ARGS=--suite`).

Runs `make test` once with pytest's ``--durations=0`` and splits the suite's test-seconds into the part that grows
with each notebook — its nbval run, its gradings (test_grading), its check, data and claim tests, its message cases,
doctests of its checks and generators — and the fixed part (the hostile catalogue, the cohort and nbgrader paths,
the CLI, the browser tests, the zygotes, ...). The projection scales the per-notebook part by
``target / notebooks today`` and keeps the fixed part:

    main step  = measured wall x (per_notebook x scale + fixed) / (per_notebook + fixed)
    nbval step = measured wall x scale

so the measured efficiency of the two workers (work stealing, the last test's tail) carries over. It assumes the
notebooks still to come cost what today's cost on average.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_NOTEBOOKS = 19  # CURRICULUM.md: the full course
BUDGET_SECONDS = 15 * 60  # ARCHITECTURE.md: the suite stays under 15 minutes on 2 cores at 19 notebooks

LOG = ROOT / "test-artifacts" / "suite-durations.log"
_DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)")
_SUMMARY = re.compile(r"=* ?(?:\d+ \w+(?:, )?)+ in ([\d.]+)s")
#: test files whose every test is about one notebook (parametrised over them, or named for its checks or data)
_PER_NOTEBOOK_FILES = ("test_grading.py", "test_check_messages.py", "test_release.py")
_PER_NOTEBOOK_PREFIXES = ("test_checks_", "test_datasets_")
_PER_NOTEBOOK_SOURCES = ("src/mlcasebook/checks/", "src/mlcasebook/datasets/", "src/mlcasebook/cases/")


def per_notebook(nodeid: str, notebooks: tuple[str, ...]) -> bool:
    """Whether a test's cost comes once per notebook (it grows with the curriculum) or once per suite."""
    path = nodeid.split("::")[0]
    name = Path(path).name
    if name in _PER_NOTEBOOK_FILES or name.startswith(_PER_NOTEBOOK_PREFIXES) or name.endswith("_claims.py"):
        return True
    if path.startswith(_PER_NOTEBOOK_SOURCES):
        return True
    params = nodeid.partition("[")[2]
    return any(nb in params for nb in notebooks)


def _durations(output: str):
    """(seconds, test id) of every duration line of the main pytest step (``tests``, doctests; not nbval's cells)."""
    for line in output.splitlines():
        m = _DURATION.match(line.strip())
        if m and not m.group(3).startswith(("solutions/", "notebooks/")):
            yield float(m.group(1)), m.group(3)


def split(output: str, notebooks: tuple[str, ...]) -> dict[str, float]:
    """Test-seconds of the main pytest step, per notebook and fixed."""
    sums = {"per_notebook": 0.0, "fixed": 0.0}
    for seconds, nodeid in _durations(output):
        sums["per_notebook" if per_notebook(nodeid, notebooks) else "fixed"] += seconds
    return {k: round(v, 1) for k, v in sums.items()}


def owner(nodeid: str, cases) -> tuple[str, ...]:
    """The notebooks a per-notebook test is about: named in its parameters (a notebook, or a part's grade-id
    prefix), or by its file (test_checks_<checks>.py, test_datasets_<datasets>.py, a checks or datasets module's
    doctests); a dataset shared by several notebooks is shared between them."""
    path, params = nodeid.split("::")[0], nodeid.partition("[")[2]
    named = tuple(c.notebook for c in cases if c.notebook in params)
    if named:
        return named
    by_prefix = tuple(c.notebook for c in cases if params.startswith(f"{c.prefix}_"))
    if by_prefix:
        return by_prefix[:1]
    stem = Path(path).stem
    if stem.startswith("test_checks_"):
        return tuple(c.notebook for c in cases if c.checks == stem.removeprefix("test_checks_"))
    if stem.startswith("test_datasets_"):
        return tuple(c.notebook for c in cases if stem.removeprefix("test_datasets_") in c.datasets)
    if path.startswith(("src/mlcasebook/checks/", "src/mlcasebook/datasets/")):
        return tuple(c.notebook for c in cases if stem == c.checks or stem in c.datasets)
    return ()


def by_notebook(output: str, cases) -> dict[str, float]:
    """Per-notebook test-seconds of the main step attributed to each notebook (``(shared)``: the rest)."""
    notebooks = tuple(c.notebook for c in cases)
    sums = {nb: 0.0 for nb in notebooks}
    sums["(shared)"] = 0.0
    for seconds, nodeid in _durations(output):
        if per_notebook(nodeid, notebooks):
            owners = owner(nodeid, cases) or ("(shared)",)
            for nb in owners:
                sums[nb] += seconds / len(owners)
    return dict(sorted(((k, round(v, 1)) for k, v in sums.items()), key=lambda kv: -kv[1]))


def project(nbval_s: float, main_s: float, rest_s: float, seconds: dict[str, float], today: int,
            target: int = TARGET_NOTEBOOKS) -> dict:
    """The suite's wall time at ``target`` notebooks from today's steps (see the module's docstring)."""
    scale = target / today
    p, f = seconds["per_notebook"], seconds["fixed"]
    main = main_s * (p * scale + f) / (p + f) if p + f else main_s
    total = nbval_s * scale + main + rest_s
    # what each notebook still to come may cost the main step, in test-seconds, for the suite to stay in budget
    room = (BUDGET_SECONDS - nbval_s * scale - rest_s) * (p + f) / main_s - p - f if main_s else 0.0
    return {"notebooks": target, "scale": round(scale, 3), "nbval_seconds": round(nbval_s * scale, 1),
            "main_seconds": round(main, 1), "seconds": round(total, 1), "minutes": round(total / 60, 1),
            "within_budget": total < BUDGET_SECONDS, "per_notebook_test_seconds_today": round(p / today, 1),
            "allowed_test_seconds_per_new_notebook": round(room / (target - today), 1) if target > today else None}


def measure(env: dict | None = None) -> dict:
    """Run `make test` with durations; return today's figures and the projection."""
    from mlcasebook import curriculum

    cases = curriculum.cases(ROOT)
    load = round(os.getloadavg()[0], 2)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    # ARGS is handed to both pytest steps; make passes its own command line down otherwise
    done = subprocess.run(["make", "test", "ARGS=--durations=0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    total = time.perf_counter() - started
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text(done.stdout + done.stderr)  # every test's duration, to see where the time went
    return {"when": when, "load_average_at_start": load, "log": str(LOG.relative_to(ROOT)),
            "passed": done.returncode == 0, **analyse(done.stdout, total, cases)}


def analyse(output: str, total: float, cases) -> dict:
    """Today's figures and the projection from `make test`'s output (``total``: its wall seconds)."""
    walls = [float(m.group(1)) for m in map(_SUMMARY.match, output.splitlines()) if m]
    if len(walls) < 2:
        sys.stderr.write(output[-3000:])
        raise RuntimeError("make test did not report both pytest steps")
    nbval_s, main_s = walls[0], walls[1]
    rest = max(0.0, total - nbval_s - main_s)  # ruff, make, pytest start-up and collection
    seconds = split(output, tuple(c.notebook for c in cases))
    return {"seconds": round(total, 1), "nbval_seconds": nbval_s, "main_seconds": main_s,
            "other_seconds": round(rest, 1), "notebooks": len(cases), "main_test_seconds": seconds,
            "main_test_seconds_by_notebook": by_notebook(output, cases),
            "projected": project(nbval_s, main_s, rest, seconds, len(cases))}


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
