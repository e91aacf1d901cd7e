"""Warm starts (mlcasebook.grading.zygote): a forked kernel is jailed exactly as a cold one, and scores the same."""

from __future__ import annotations

import json
import os

import pytest

from mlcasebook import authoring as A
from mlcasebook.grading import api, zygote
from mlcasebook.grading.sandbox import NAMESPACES, _unshare_works

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or _unshare_works(True) is not None,
                                reason="warm kernels need the namespace sandbox as root")

SECRET = "MLCASEBOOK_ZYGOTE_SECRET"

#: what the learner's code can see of its sandbox, printed as one JSON line
PROBE = r'''import json, os, socket, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
def reach(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return "connected"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()
def writable(path):
    try:
        open(os.path.join(path, "probe.txt"), "w").close()
        return True
    except OSError:
        return False
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    network = "open"
except OSError:
    network = "closed"
seen = {
    "pid": os.getpid(),
    "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "zygote_sockets": sorted({reach(p) for p in ZYGOTE_SOCKETS}),
    "course_listing": sorted(os.listdir(COURSE)) if os.path.isdir(COURSE) else None,
    "course_writable": writable(COURSE) if os.path.isdir(COURSE) else False,
    "first_environ_secret": SECRET.encode() in open("/proc/1/environ", "rb").read(),
    "environ_secret": SECRET in os.environ,
    "real_checks": any(m in sys.modules for m in ("mlcasebook.grading.verdict", "mlcasebook.grading.api")),
    "checks_reference": "def reference_srm_pvalue" in open(__import__("mlcasebook.checks.ab_design").checks.ab_design.__file__).read(),
    "network": network, "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [os.getpid()],
    "cwd_is_workdir": os.getcwd().endswith("/work"),
}
print("SEEN " + json.dumps(seen))
value = 42'''


def _notebook(probe: str):
    return A.notebook([
        A.md("# Probe"),
        A.setup("import numpy as np\nfrom mlcasebook import checks"),
        A.answer("probe", f"### BEGIN SOLUTION\n{probe}\n### END SOLUTION"),
        A.test("probe_test", 'assert value == 42, "value should be 42"', points=1),
    ])


def _seen(executed) -> dict:
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if "SEEN " in text:
                return json.loads(text.split("SEEN ", 1)[1].splitlines()[0])
    raise AssertionError("the probe printed nothing")


def _grade(nb, warm: bool, monkeypatch, tmp_path):
    monkeypatch.setenv("MLCASEBOOK_WARM", "1" if warm else "0")
    source = A.write(nb, tmp_path / "solutions" / "probe.ipynb")  # no release beside it: graded as the source
    executed, parts, _notes, mechanism = api.grade_notebook(nb, source, timeout=60)
    assert mechanism == NAMESPACES
    return executed, parts


def test_a_forked_kernel_sees_the_same_jail_as_a_cold_one(monkeypatch, tmp_path):
    monkeypatch.setenv(SECRET, "grader-only")  # in the grader's environment while the zygotes start
    zygote.stop_all()
    zygote._failures.clear()
    monkeypatch.setenv("MLCASEBOOK_WARM", "1")
    kernels = zygote.get(zygote.KERNEL)
    assert kernels is not None, zygote.why_not(zygote.KERNEL)
    assert zygote.get(zygote.VERDICT) is not None, zygote.why_not(zygote.VERDICT)
    from mlcasebook import paths

    setup = (f"ZYGOTE_SOCKETS = {[str(z.folder / 'zygote.sock') for z in zygote._zygotes.values()]!r}\n"
             f"COURSE = {str(paths.course_root())!r}\nSECRET = {SECRET!r}\n")
    nb = _notebook(setup + PROBE)
    forks = kernels.forks
    warm_executed, warm_parts = _grade(nb, True, monkeypatch, tmp_path)
    assert kernels.forks == forks + 1, "the warm grading did not fork its kernel from the zygote"
    cold_executed, cold_parts = _grade(nb, False, monkeypatch, tmp_path)
    assert kernels.forks == forks + 1, "the cold grading forked from the zygote"
    warm, cold = _seen(warm_executed), _seen(cold_executed)
    assert warm == cold
    assert warm["pid"] == 1 and warm["processes"], "the kernel is not alone in its PID namespace"
    assert int(warm["cap_eff"], 16) == 0 and int(warm["cap_bnd"], 16) == 0 and warm["no_new_privs"] == "1"
    assert warm["zygote_sockets"] == ["FileNotFoundError"], "a kernel could reach a zygote's socket"
    assert warm["course_listing"] is not None and "solutions" not in warm["course_listing"]
    # a course under /tmp sits on the kernel's own writable /tmp layer: what matters is that no write reaches it
    assert not (paths.course_root() / "probe.txt").exists() and warm["network"] == "closed"
    assert not warm["first_environ_secret"] and not warm["environ_secret"]
    assert not warm["real_checks"] and not warm["checks_reference"]
    assert warm_parts == cold_parts
    assert [p.status for p in warm_parts] == [api.PASSED]


def test_a_fork_starts_from_the_zygote_not_from_the_last_grading(monkeypatch, tmp_path):
    """State a learner leaves in a kernel or a verdict process (a module attribute, a global seed) is gone in the
    next grading: each fork copies the zygote, never an earlier fork."""
    taint = ("import numpy, scipy.stats\nif getattr(numpy, '_tainted', False):\n    value = 0\nelse:\n"
             "    numpy._tainted = True\n    scipy.stats.norm = None\n    value = 42")
    nb = _notebook(taint)
    for _ in range(2):
        _executed, parts = _grade(nb, True, monkeypatch, tmp_path)
        assert [p.status for p in parts] == [api.PASSED]


def test_a_dead_zygote_is_replaced_and_the_grading_still_scores(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCASEBOOK_WARM", "1")
    kernels = zygote.get(zygote.KERNEL)
    assert kernels is not None, zygote.why_not(zygote.KERNEL)
    kernels.proc.kill()
    kernels.proc.wait()
    _executed, parts = _grade(_notebook("value = 42"), True, monkeypatch, tmp_path)
    assert [p.status for p in parts] == [api.PASSED]
    assert zygote.get(zygote.KERNEL) is not kernels and zygote.get(zygote.KERNEL).alive()



SHARED_WORKER = r'''
import json, sys
import nbformat
from mlcasebook.grading import pool, zygote
shared, source = json.loads(sys.argv[1]), open(sys.argv[2]).read()
pool.warm_up(shared)
task = {"student": "s", "notebook": "probe", "submission": source, "source": source, "release": None,
        "timeout": 60, "memory_mb": 2048, "sandbox": None, "hide": []}
result = pool.grade_task(task)
if sys.argv[3] == "kill":  # the shared zygote dies between two gradings: this process starts its own
    import os, select, signal
    gone = os.pidfd_open(shared["kernels"]["pid"])
    os.kill(shared["kernels"]["pid"], signal.SIGKILL)
    select.select([gone], [], [], 10)
    result = pool.grade_task(task)
print("RESULT " + json.dumps({"statuses": [p["status"] for p in result.get("parts", [])], "error": result.get("error"),
    "pids": {k: z.pid for k, z in zygote._zygotes.items()}, "own": {k: z.proc is not None for k, z in zygote._zygotes.items()}}))
'''


@pytest.mark.parametrize("then", ["keep", "kill"])
def test_a_worker_forks_from_the_zygotes_its_command_shares(then, monkeypatch, tmp_path):
    """The embedded cluster's workers fork from the pair their command started (pool.prestart), and a worker whose
    shared zygote died starts its own and goes on scoring."""
    import subprocess
    import sys

    zygote.stop_all()
    zygote._failures.clear()
    monkeypatch.setenv("MLCASEBOOK_WARM", "1")
    for kind in (zygote.KERNEL, zygote.VERDICT):
        assert zygote.get(kind) is not None, zygote.why_not(kind)
    shared = zygote.shared()
    source = A.write(_notebook("value = 42"), tmp_path / "solutions" / "probe.ipynb")
    done = subprocess.run([sys.executable, "-c", SHARED_WORKER, json.dumps(shared), str(source), then],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    seen = json.loads(done.stdout.split("RESULT ", 1)[1]) if "RESULT " in done.stdout else done.stderr[-2000:]
    assert isinstance(seen, dict), seen
    assert seen["error"] is None and seen["statuses"] == [api.PASSED]
    if then == "keep":
        assert seen["pids"] == {k: v["pid"] for k, v in shared.items()} and not any(seen["own"].values())
    else:
        assert seen["own"][zygote.KERNEL] and seen["pids"][zygote.KERNEL] != shared[zygote.KERNEL]["pid"]
    zygote.stop_all()
