"""Course, runner and fixtures of the hostile-input catalogue (``conftest.py`` re-exports the fixtures).

A small course of its own, and grading runs shared by the cases.

One grading run (a notebook plus options) may be asserted by several cases; it is run once per session, also
under pytest-xdist: the first worker that needs it grades it under a file lock and stores the outcome as JSON
in the session's shared temporary folder, the other worker reads it.

Every run records what the brief of each case needs: the exit code, stdout, stderr, whether the learner's file
kept its bytes, which grading processes outlived the run, and which temporary folders were left. A run gets
its own temporary folder (``tempfile.tempdir`` / ``TMPDIR``) and a marker in its environment, so processes and
folders of other gradings that run on the machine at the same time (the other xdist worker, a developer's
``make test``) are never mistaken for this run's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from mlcasebook import authoring as A
from mlcasebook import cli
from mlcasebook.grading import zygote

# The suite grades as a cohort worker does: kernels and verdict processes fork from pre-imported zygotes
# (mlcasebook.grading.zygote), one pair per test process, started by the first grading that needs them.
# The subprocess cases of the hostile catalogue and the CLI tests start theirs cold, as `mlcasebook check` does.
zygote.enable()

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME, SECRET_VALUE = "MLCASEBOOK_SECRET_TEST", "xyz-hostile-sentinel-9431"
GRADER_PROCESS = re.compile(r"ipykernel_launcher|mlcasebook\.grading\.(jail|verdict|zygote)")
#: processes the learner's code starts on purpose (unique sleeps): must never outlive grading
LEARNER_PROCESS = re.compile(r"\bsleep 3030[3-9]\b")


SETUP = "import warnings, sys\nimport numpy as np\nfrom mlcasebook import checks, datasets"
HIDDEN_ARG, HIDDEN_COUNTS = "1234567", "31337"  # inputs only the hidden tests know: must never reach a report
MINI = [
    A.md("# Mini case"),
    A.setup(SETUP),
    A.answer("mini_value", "value = None\n### BEGIN SOLUTION\nvalue = 42\n### END SOLUTION"),
    A.test("mini_value_test", 'with checks.quiet():\n    assert value == 42, "value is not the answer to everything"',
           points=1),
    A.answer("mini_double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    A.test("mini_double_test", 'with checks.quiet():\n    assert double(21) == 42, "double(21) should be 42"\n'
                               f'    assert double({HIDDEN_ARG}) == {2 * int(HIDDEN_ARG)}, "double is wrong on a larger number"',
           points=2),
    A.answer("mini_srm", "def srm_pvalue(counts, shares):\n    ### BEGIN SOLUTION\n    from scipy.stats import chisquare\n"
                         "    c, s = np.asarray(counts, float), np.asarray(shares, float)\n"
                         "    return float(chisquare(c, c.sum() * s / s.sum()).pvalue)\n    ### END SOLUTION"),
    A.test("mini_srm_test", "with checks.quiet():\n    checks.ab_design.srm_function(srm_pvalue, cases=[\n"
                            f"        (({HIDDEN_COUNTS}, 28663), (0.5, 0.5)), ((52000, 48000), (0.52, 0.48))]).require()",
           points=2),
    A.answer("mini_metric", 'metric = None\n### BEGIN SOLUTION\nmetric = "average_precision"\n### END SOLUTION'),
    A.test("mini_metric_test", "with checks.quiet():\n    checks.churn.metric_choice(metric).require()", points=1),
]
OTHER = [
    A.md("# Other case"),
    A.setup(SETUP),
    A.answer("other_answer", "answer = None\n### BEGIN SOLUTION\nanswer = 7\n### END SOLUTION"),
    A.test("other_answer_test", 'assert answer == 7, "answer should be 7"', points=1),
]


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id) -> Path:
    base = tmp_path_factory.getbasetemp()
    base = base.parent if worker_id != "master" else base  # xdist: the folder all workers of this session share
    path = base / "hostile-shared"
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def locked(path: Path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def course_env(course: Path) -> dict:
    return {"MLCASEBOOK_ROOT": str(course), "MLCASEBOOK_DATA": str(ROOT / "data"),
            "MLCASEBOOK_PROGRESS": str(course / "progress.jsonl")}


@pytest.fixture(scope="session")
def course(shared_dir) -> Path:
    """Two small cases in 00_demo (mini: four graded parts; other: one), released with `mlcasebook release`."""
    root = shared_dir / "course"
    with locked(shared_dir / "course.lock"):
        if not (root / "notebooks" / "00_demo" / "mini.ipynb").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            shutil.copy(ROOT / "nbgrader_config.py", root)
            A.write(A.notebook(MINI), root / "solutions" / "00_demo" / "mini.ipynb")
            A.write(A.notebook(OTHER), root / "solutions" / "00_demo" / "other.ipynb")
            with pytest.MonkeyPatch.context() as mp:
                for name, value in course_env(root).items():
                    mp.setenv(name, value)
                with contextlib.redirect_stdout(io.StringIO()):
                    assert cli.main(["release"]) == 0
            # the learner's history and the instructor's gradebook, which learner code must not read
            (root / "progress.jsonl").write_text('{"source": "solutions/00_demo/mini.ipynb", "score": 6, "secret": "PROGRESS-SECRET"}\n')
            (root / "gradebook.db").write_bytes(b"SQLite format 3\x00GRADEBOOK-SECRET")
    return root


def processes() -> dict[int, str]:
    """Every process's full command line, from /proc (``ps`` cuts lines to 80 columns when not on a terminal, and
    a cut line missed the grading folder: the signal tests then waited 60 s for a kernel they did not see)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        if raw:
            table[int(entry.name)] = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    return table


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def leftovers(before: dict[int, str], private: Path, marker: str, grace: float = 2.0) -> list[str]:
    """Grading or learner processes that appeared during the run and still exist after ``grace`` seconds.

    A warm grading's kernel and verdict process are forks of this test process's zygotes (their command line is
    the zygote's): any fork of them still alive is a leftover; the zygotes themselves live on, for the next run."""
    deadline = time.monotonic() + grace
    while True:
        left = []
        table = processes()
        zygotes = {pid for pid, cmd in table.items()
                   if "mlcasebook.grading.zygote" in cmd and _parent(pid) == os.getpid()}
        for pid, cmd in table.items():
            if pid in before or pid == os.getpid() or pid in zygotes:
                continue
            ours = str(private) in cmd or marker.encode() in _environ(pid) or _parent(pid) in zygotes
            if (GRADER_PROCESS.search(cmd) and ours) or LEARNER_PROCESS.search(cmd):
                left.append(f"{pid} {cmd[:160]}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def temp_left(private: Path) -> list[str]:
    return sorted(p.name for p in private.iterdir()) if private.exists() else []


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def grade_in_process(path: Path, args: list[str], course: Path, private: Path, marker: str) -> dict:
    """``cli.main(["check", path, *args])`` with the course's environment; what happened, as plain data."""
    out, err = io.StringIO(), io.StringIO()
    before_sha = sha(path)
    before = processes()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in course_env(course).items():
            mp.setenv(name, value)
        mp.setenv("MLCASEBOOK_HOSTILE_RUN", marker)
        mp.setenv(SECRET_NAME, SECRET_VALUE)
        mp.setenv("TMPDIR", str(private))
        mp.setattr(tempfile, "tempdir", str(private))
        started = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["check", str(path), *args])
            except SystemExit as exc:  # argparse refuses an option
                code = exc.code
        seconds = time.monotonic() - started
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "seconds": seconds,
            "sha_before": before_sha, "sha_after": sha(path),
            "leftovers": leftovers(before, private, marker), "temp_left": temp_left(private)}


def grade_subprocess(path: Path, args: list[str], course: Path, private: Path, marker: str, signum: int,
                     after: float) -> dict:
    """``python -m mlcasebook.cli check`` in its own process group; ``signum`` sent to it ``after`` seconds in."""
    import signal
    import sys

    before_sha = sha(path)
    before = processes()
    env = {**os.environ, **course_env(course), "MLCASEBOOK_HOSTILE_RUN": marker, SECRET_NAME: SECRET_VALUE,
           "TMPDIR": str(private)}
    proc = subprocess.Popen([sys.executable, "-m", "mlcasebook.cli", "check", str(path), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60  # signal once the learner's kernel runs: grading is then truly under way
    while time.monotonic() < deadline and proc.poll() is None:
        if any("ipykernel_launcher" in cmd and str(private) in cmd for cmd in processes().values()):
            break
        time.sleep(0.2)
    time.sleep(after)
    at_signal = temp_left(private)
    started = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    else:
        proc.send_signal(signum)  # what `kill PID` or a CI runner's cancel does
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    return {"code": proc.returncode, "stdout": stdout, "stderr": stderr, "seconds": time.monotonic() - started,
            "temp_at_signal": at_signal,
            "sha_before": before_sha, "sha_after": sha(path),
            "leftovers": leftovers(before, private, marker), "temp_left": temp_left(private)}


@pytest.fixture()
def graded(shared_dir, course, request):
    """``graded(name)``: the outcome of the run ``name`` of the test module's ``RUNS``, run once per session."""
    RUNS = request.module.RUNS
    runs = shared_dir / "runs"
    runs.mkdir(exist_ok=True)

    def get(name: str) -> dict:
        spec = RUNS[name]
        result_file = runs / f"{name}.json"
        with locked(runs / f"{name}.lock"):
            if not result_file.is_file():
                folder = runs / name
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                # short: the kernel's sockets live in the grading folder, and a Unix socket path has 107 bytes at most
                private = Path(tempfile.mkdtemp(prefix="mlcb-hostile-", dir="/tmp"))
                context = spec.before(course, folder) if spec.before else {}
                path = spec.make(course, folder)
                marker = uuid.uuid4().hex
                try:
                    if spec.signal is None:
                        result = grade_in_process(path, spec.args, course, private, marker)
                    else:
                        result = grade_subprocess(path, spec.args, course, private, marker, spec.signal, spec.after)
                finally:
                    shutil.rmtree(private, ignore_errors=True)
                result["extra"] = spec.after_run(course, folder, context) if spec.after_run else {}
                result["path"] = str(path)
                try:
                    result["json"] = json.loads(result["stdout"]) if "--json" in spec.args and result["code"] == 0 else None
                except ValueError:
                    result["json"] = None
                result_file.write_text(json.dumps(result))
        result = json.loads(result_file.read_text())
        if result["json"] is not None:
            result["by_id"] = {p["grade_id"]: p for p in result["json"]["parts"]}
        return result

    return get
