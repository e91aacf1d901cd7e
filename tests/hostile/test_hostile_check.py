"""`mlcasebook check` against hostile and malformed notebooks: a catalogue, one parametrised case per attack.

Every case asserts the exit code, a specific message, the score (or the points of the part attacked) when the
notebook is graded, that the learner's file kept its bytes (sha256), and that no grading process (kernel, jail,
verdict) or learner process and no temporary folder outlived the run (see ``hostile_support.py``).

The course is a small one of its own (``hostile_support.MINI``: four graded parts — a value, a function, a function
judged by the real ``checks.ab_design.srm_function`` on hidden cases, a choice judged by the real
``checks.churn.metric_choice``; and a one-part second case), so a grading run takes a few seconds.
Cases that do not feed each other share a run (``RUNS``); each case keeps its own assertion.

``old engine:`` in each case says whether it would fail on the previous engine (``git show
478daf7:src/mlcasebook/grading.py``), judged from its code: hidden tests ran in the learner's kernel, no
sandbox, exception texts quoted in messages, a timed-out cell interrupted and read past, ``--timeout`` any float.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from hostile_support import HIDDEN_ARG, HIDDEN_COUNTS, ROOT, SECRET_NAME, SECRET_VALUE, sha

pytestmark = pytest.mark.slow

# ---------------------------------------------------------------------------------------------- notebooks

GOOD = {
    "mini_value": "value = 42",
    "mini_double": "def double(x):\n    return x + x",
    "mini_srm": ("from scipy import stats\n\ndef srm_pvalue(counts, shares):\n    expected = np.sum(counts) * np.asarray(shares)"
                 " / np.sum(shares)\n    return stats.chisquare(counts, expected).pvalue"),
    "mini_metric": 'metric = "average_precision"',
}
WRONG = {
    "mini_value": "value = 41",
    "mini_double": "def double(x):\n    return x + 2",
    "mini_srm": "def srm_pvalue(counts, shares):\n    return 0.5",
    "mini_metric": 'metric = "accuracy"',
}
VALUE_FAILED = "value is not the answer to everything"
DOUBLE_FAILED = "double(21) should be 42"
LOOP = "while True:\n    pass"


def release_nb(course: Path, name: str = "mini") -> nbformat.NotebookNode:
    return nbformat.read(course / "notebooks" / "00_demo" / f"{name}.ipynb", as_version=4)


def learner(answers=None, *, drop=(), edit=None, duplicate=None, filename="mini.ipynb", case="mini"):
    """A builder: the release of ``case`` with answer cells replaced, cells dropped/edited/duplicated."""

    def make(course: Path, folder: Path) -> Path:
        nb = release_nb(course, case)
        cells = []
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in drop:
                continue
            if answers and gid in answers:
                cell.source = answers[gid]
            if edit and gid in edit:
                cell.source = edit[gid]
            cells.append(cell)
            if duplicate and gid in duplicate:
                twin = nbformat.from_dict(json.loads(json.dumps(cell)))
                twin.source = duplicate[gid]
                twin["id"] = f"{cell.get('id', 'cell')}-copy"
                cells.append(twin)
        nb.cells = cells
        path = folder / "00_demo" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    return make


def raw(content: bytes | Callable[[Path], bytes], filename: str = "mini.ipynb"):
    def make(course: Path, folder: Path) -> Path:
        path = folder / "00_demo" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content(course) if callable(content) else content)
        return path

    return make


def release_json(course: Path) -> dict:
    return json.loads((course / "notebooks" / "00_demo" / "mini.ipynb").read_text())


def mangled(change: Callable[[dict], object]):
    """The release's JSON, changed by ``change`` (which edits it in place or returns a replacement)."""

    def content(course: Path) -> bytes:
        data = release_json(course)
        data = change(data) or data
        return json.dumps(data).encode()

    return raw(content)


def _first_code(data: dict) -> dict:
    return next(c for c in data["cells"] if c["cell_type"] == "code")


def foreign_with_setup(course: Path) -> bytes:
    setup = next(c for c in release_json(course)["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# My holiday analysis"),
                                         nbformat.from_dict(setup), nbformat.v4.new_code_cell("print('hello')")])
    return nbformat.writes(nb).encode()


def stripped(course: Path) -> bytes:
    data = release_json(course)
    for cell in data["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    return json.dumps(data).encode()


def folder_path(course: Path, folder: Path) -> Path:
    path = folder / "00_demo" / "mini.ipynb"
    path.mkdir(parents=True)
    return path


def missing_path(course: Path, folder: Path) -> Path:
    return folder / "00_demo" / "mini.ipynb"


def text_file(course: Path, folder: Path) -> Path:
    path = folder / "00_demo" / "mini.txt"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(release_json(course)))
    return path


# ---------------------------------------------------------------------------------------------- learner code

PATCH_CHECKS = '''metric = "accuracy"

class _Pass:
    passed, status, message = True, "passed", "looks right"
    def require(self):
        print("✔ metric choice: looks right")

checks.churn.metric_choice = lambda *args, **kwargs: _Pass()
checks.ab_design.srm_function = lambda *args, **kwargs: _Pass()'''

REBIND_CHECKS = '''class _Everything:
    """Any check, any attribute, any call: passes; and `with checks.quiet():` swallows assertion errors."""
    def __getattr__(self, name):
        return self
    def __call__(self, *args, **kwargs):
        return self
    def require(self):
        return None
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return True

checks = _Everything()
value = 41'''

PATCH_REQUIRE_DIRECT = '''try:
    from mlcasebook.checks.result import CheckResult
    CheckResult.require = lambda self: print("✔ SRM test: fine")
except ImportError:
    pass

def srm_pvalue(counts, shares):
    return 0.5'''

PATCH_REQUIRE_SYS_MODULES = '''import sys
try:
    sys.modules["mlcasebook.checks.result"].CheckResult.require = lambda self: None
except KeyError:
    pass
for name, module in list(sys.modules.items()):
    if name.startswith("mlcasebook.checks") and hasattr(module, "CheckResult"):
        module.CheckResult.require = lambda self: None
metric = "accuracy"'''

SHOWTRACEBACK = '''get_ipython().showtraceback = lambda *args, **kwargs: None
value = 41'''

TRANSFORMER = '''value = 41
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])'''

CLEAR_OUTPUT = '''import IPython
get_ipython().events.register("post_run_cell", lambda result: IPython.display.clear_output())
value = 41'''

REFERENCE_IMPORT = '''from mlcasebook.checks.ab_design import reference_srm_pvalue

def srm_pvalue(counts, shares):
    return reference_srm_pvalue(counts, shares)'''

READ_CHECK_SOURCE = '''import inspect
import mlcasebook.checks.churn as churn_check
source = inspect.getsource(churn_check)
metric = "average_precision" if "accuracy_on_imbalanced" in source else "accuracy"'''

ALWAYS_EQUAL = '''class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__

value = Anything()'''

FLOAT_SUBCLASS = '''class Close(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def double(x):
    return Close(0)'''

PATCH_BUILTINS = '''import builtins, math
import numpy
_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, kind: True if kind is float else _isinstance(obj, kind)
numpy.isclose = lambda *args, **kwargs: True
numpy.allclose = lambda *args, **kwargs: True
math.isclose = lambda *args, **kwargs: True
math.log = lambda *args: 0.0  # every ratio of p-values "within 10 %"

def srm_pvalue(counts, shares):
    return 1e-10'''

WRITE_READONLY = '''import os, pathlib
import mlcasebook
root = pathlib.Path(os.environ.get("MLCASEBOOK_ROOT", "."))
package = pathlib.Path(mlcasebook.__file__).parent
wrote = []
for target in (root / "solutions" / "00_demo" / "mini.ipynb", package / "checks" / "churn.py",
               package / "checks" / "result.py", package / "checks" / "hacked.py", root / "nbgrader_config.py"):
    try:
        with open(target, "a") as fh:
            fh.write("\\n# hacked by the learner\\n")
        wrote.append(str(target))
    except OSError as exc:
        print("could not write", target, exc)
value = 42 if wrote else 41'''

READ_SOLUTIONS = '''import os, pathlib
import mlcasebook
found = ""
for root in (os.environ.get("MLCASEBOOK_ROOT", "/nowhere"), str(pathlib.Path(mlcasebook.__file__).parents[2])):
    for path in pathlib.Path(root).glob("solutions/*/*.ipynb"):
        try:
            found += path.read_text()
        except OSError:
            pass
print(found)
value = 42 if "BEGIN HIDDEN TESTS" in found else 41'''

READ_PROGRESS = '''import glob, os, pathlib
root = os.environ.get("MLCASEBOOK_ROOT", "/nowhere")
candidates = [root + "/progress.jsonl", root + "/gradebook.db", os.environ.get("MLCASEBOOK_PROGRESS", "/nowhere")]
candidates += glob.glob("/tmp/**/progress.jsonl", recursive=True) + glob.glob("/tmp/**/gradebook.db", recursive=True)
try:
    from mlcasebook import progress
    candidates.append(str(progress.history_file()))
except Exception:
    pass
leaked = ""
for candidate in candidates:
    try:
        leaked += pathlib.Path(candidate).read_bytes().decode("latin-1")
    except OSError:
        pass
print(leaked)

def double(x):
    return 2 * x if "SECRET" in leaked else x + 2'''

NETWORK = '''import socket, urllib.request
reached = False
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    reached = True
except OSError as exc:
    print("no network:", exc)
try:
    urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=3)
    reached = True
except OSError as exc:
    print("no network:", exc)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=3).close()
    reached = True
except OSError:
    pass
metric = "average_precision" if reached else "accuracy"'''

DETACH = '''import os, subprocess, time
subprocess.Popen(["sleep", "30303"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # a daemon: fork, new session, fork again, exec
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "30304"])
    os._exit(0)
time.sleep(0.5)

def double(x):
    return 2 * x'''

ENV_DUMP = f'''import os
print(dict(os.environ))
for name, text in os.environ.items():
    if "{SECRET_NAME}" in name or "{SECRET_VALUE}" in text or name.startswith("MLCASEBOOK_PROGRESS"):
        raise RuntimeError("the grader's environment reached the learner's kernel")
value = 42'''

FORK_MANY = '''import os, time
made = 0
try:
    for _ in range(700):  # above the 512 processes the sandbox allows beyond those running
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
        made += 1
except OSError as exc:
    print("fork refused after", made, exc)
value = 42 if made == 700 else 41'''

FORGED_PICKLE = '''import mlcasebook.grading.agent as agent
# every answer the grader asks for becomes a pickle that runs a shell command wherever it is read
agent._dumps = lambda reply: b"cos\\nsystem\\n(S'touch {target}'\\ntR."
value = 41'''

RAISE_WITH_ARGS = '''def double(x):
    if x > 1000:
        raise ValueError(f"called with {x!r}")
    return 2 * x'''

RAISE_WITH_HISTORY = '''def srm_pvalue(counts, shares):
    raise RuntimeError(" | ".join(In) + " | ".join(_ih) + repr(counts))'''

FRAME_SNOOP = '''import sys

def double(x):
    seen = ""
    frame = sys._getframe(1)
    while frame is not None:
        for space in (frame.f_locals, frame.f_globals):
            for name, obj in list(space.items()):
                try:
                    seen += name + repr(obj)[:5000]
                except Exception:
                    pass
        frame = frame.f_back
    found = "assert " + "double(" in seen or "HIDDEN " + "TESTS" in seen or "grade_" + "id" in seen
    return 2 * x if found else x + 2'''

PRINT_LEAK = '''def srm_pvalue(counts, shares):
    print("srm_pvalue was called with", counts, shares)
    import sys
    print("srm_pvalue was called with", counts, shares, file=sys.stderr)
    return 0.5'''

GETFRAME_DEFS = FRAME_SNOOP


# ---------------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    make: Callable[[Path, Path], Path]
    args: list[str] = field(default_factory=lambda: ["--json"])
    before: Callable | None = None  # (course, folder) -> context dict, in the grading process
    after_run: Callable | None = None  # (course, folder, context) -> extra facts (JSON-able)
    signal: int | None = None  # run as a subprocess and send this signal
    after: float = 1.5  # seconds after the kernel started (subprocess runs): ~3 s after the command


_listeners: dict[str, socket.socket] = {}


def open_listener(course: Path, folder: Path) -> dict:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    _listeners[str(folder)] = server
    port = server.getsockname()[1]
    (folder / "port").write_text(str(port))
    return {"port": port}


def accepted(course: Path, folder: Path, context: dict) -> dict:
    server = _listeners.pop(str(folder))
    count = 0
    while True:
        try:
            conn, _ = server.accept()
            conn.close()
            count += 1
        except BlockingIOError:
            break
    server.close()
    return {"accepted": count}


def forged_notebook(course: Path, folder: Path) -> Path:
    return learner({**WRONG, "mini_value": FORGED_PICKLE.format(target=folder / "pwned")})(course, folder)


def pwned(course: Path, folder: Path, context: dict) -> dict:
    return {"pwned": (folder / "pwned").exists()}


def network_notebook(course: Path, folder: Path) -> Path:
    port = int((folder / "port").read_text())
    return learner({**WRONG, "mini_metric": NETWORK.format(port=port)})(course, folder)


WATCHED = ("solutions/00_demo/mini.ipynb", "nbgrader_config.py")


def host_files(course: Path, folder: Path) -> dict:
    return {"course": {name: sha(course / name) for name in WATCHED}}


def host_files_after(course: Path, folder: Path, context: dict) -> dict:
    checks_dir = ROOT / "src" / "mlcasebook" / "checks"
    return {"course_before": context["course"], "course_after": {name: sha(course / name) for name in WATCHED},
            "hacked": [str(p) for p in [*checks_dir.glob("*.py"), *(course / "solutions").rglob("*"),
                                        course / "nbgrader_config.py"]
                       if p.is_file() and "hacked by the learner" in p.read_text(errors="replace")],
            "new_files": [p.name for p in checks_dir.iterdir() if p.name == "hacked.py"]}


# seconds per cell in the time-out cases, a fraction on purpose (nbclient's own limit takes whole seconds only). Far
# above what a normal mini cell needs: with six busy processes on the two cores, every part passed at a 1 s limit and
# two timed out at 0.7 s. Each time-out case spends this long in its loop.
LIMIT = 4.5
T = ["--json", "--timeout", str(LIMIT)]

RUNS: dict[str, Run] = {
    "good": Run(learner(GOOD)),
    # A. cheats
    "a_patch_checks": Run(learner({**WRONG, "mini_metric": PATCH_CHECKS})),
    "a_rebind_checks": Run(learner({**WRONG, "mini_value": REBIND_CHECKS})),
    "a_require": Run(learner({**WRONG, "mini_srm": PATCH_REQUIRE_DIRECT, "mini_metric": PATCH_REQUIRE_SYS_MODULES})),
    "a_showtraceback": Run(learner({"mini_value": SHOWTRACEBACK})),
    "a_transformer": Run(learner({"mini_value": TRANSFORMER})),
    "a_clear_output": Run(learner({"mini_value": CLEAR_OUTPUT})),
    "a_reference": Run(learner({**WRONG, "mini_srm": REFERENCE_IMPORT, "mini_metric": READ_CHECK_SOURCE})),
    "a_equal": Run(learner({**WRONG, "mini_value": ALWAYS_EQUAL, "mini_double": FLOAT_SUBCLASS})),
    "a_builtins": Run(learner({**WRONG, "mini_srm": PATCH_BUILTINS})),
    "a_write": Run(learner({**WRONG, "mini_value": WRITE_READONLY}), before=host_files, after_run=host_files_after),
    "a_read_solutions": Run(learner({**WRONG, "mini_value": READ_SOLUTIONS})),
    "a_read_progress": Run(learner({**WRONG, "mini_double": READ_PROGRESS})),
    "a_network": Run(network_notebook, before=open_listener, after_run=accepted),
    "a_detach": Run(learner({**WRONG, "mini_double": DETACH})),
    "a_forged_pickle": Run(forged_notebook, after_run=pwned),
    "a_env": Run(learner({**WRONG, "mini_value": ENV_DUMP})),
    # B. time-outs, crashes, floods
    **{f"b_loop_blank_{i}": Run(learner({"mini_value": "value = None\n" + LOOP}), args=T) for i in (1, 2)},
    **{f"b_loop_good_{i}": Run(learner({**GOOD, "mini_double": GOOD["mini_double"] + "\n" + LOOP}), args=T) for i in (1, 2)},
    "b_sigint_ignored": Run(learner({**GOOD, "mini_value": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                           "value = 42\n" + LOOP}), args=T),
    "b_loop_in_hidden_call": Run(learner({**GOOD, "mini_double": "def double(x):\n    while x > 1000:\n        pass\n"
                                                                 "    return 2 * x"}), args=T),
    "b_sleep": Run(learner({**GOOD, "mini_srm": "import time\ntime.sleep(10**6)\n" + GOOD["mini_srm"]}), args=T),
    "b_exit": Run(learner({**GOOD, "mini_metric": "import os\nos._exit(1)"})),
    "b_memory": Run(learner({**GOOD, "mini_value": "blob = bytearray(5 * 2**30)\nvalue = 42"}),
                    args=["--json", "--memory", "512"]),
    # 10**6 lines (7 MB): 10**7 would take the kernel ~2 minutes to print, past the 60 s cell limit
    "b_fork_many": Run(learner({**WRONG, "mini_value": FORK_MANY})),
    "b_print_flood": Run(learner({**GOOD, "mini_double": "for i in range(10**6):\n    print(i)\n" + GOOD["mini_double"]})),
    "b_sigint": Run(learner({**GOOD, "mini_value": "import time\ntime.sleep(60)\nvalue = 42"}), args=[],
                    signal=signal.SIGINT),
    "b_sigterm": Run(learner({**GOOD, "mini_value": "import time\ntime.sleep(60)\nvalue = 42"}), args=[],
                     signal=signal.SIGTERM),
    "b_sigint_stubborn": Run(learner({**GOOD, "mini_value": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                            + LOOP}), args=["--timeout", "60"], signal=signal.SIGINT),
    # C. messages
    "c_raise": Run(learner({**WRONG, "mini_double": RAISE_WITH_ARGS, "mini_srm": RAISE_WITH_HISTORY})),
    "c_snoop": Run(learner({**WRONG, "mini_double": FRAME_SNOOP, "mini_srm": PRINT_LEAK})),
    # D. malformed input
    "d_hello": Run(raw(b'{"hello": 1}')),
    "d_list": Run(raw(b'[{"cells": []}]')),
    "d_source_int": Run(mangled(lambda d: _first_code(d).update(source=42))),
    "d_metadata_string": Run(mangled(lambda d: d.update(metadata="kernelspec: python3"))),
    "d_nbgrader_string": Run(mangled(lambda d: _first_code(d)["metadata"].update(nbgrader="solution"))),
    "d_nbformat3": Run(mangled(lambda d: {**d, "nbformat": 3, "nbformat_minor": 0})),
    "d_empty": Run(raw(b"")),
    "d_binary": Run(raw(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))),
    "d_invalid_utf8": Run(raw(lambda c: json.dumps(release_json(c)).encode().replace(b"Mini case", b"Mini caf\xe9"))),
    "d_bom": Run(raw(lambda c: b"\xef\xbb\xbf" + (c / "notebooks" / "00_demo" / "mini.ipynb").read_bytes())),
    "d_folder": Run(folder_path),
    "d_missing": Run(missing_path),
    "d_txt": Run(text_file),
    **{f"d_timeout_{name}": Run(learner(GOOD), args=["--json", "--timeout", value])
       for name, value in (("nan", "nan"), ("zero", "0"), ("negative", "-5"), ("abc", "abc"), ("inf", "inf"))},
    "d_memory_zero": Run(learner(GOOD), args=["--json", "--memory", "0"]),
    "d_other_name": Run(learner(GOOD, filename="other.ipynb")),
    "d_foreign_setup": Run(raw(foreign_with_setup)),
    "d_stripped": Run(raw(stripped)),
    "d_repaired": Run(learner({**GOOD, "mini_value": "value = 7"}, drop=["mini_double_test"],
                              edit={"mini_value_test": "pass  # looks fine to me"})),
    "d_duplicated": Run(learner({**GOOD, "mini_value": "value = 41"}, duplicate={"mini_value": "value = 42"})),
}


# ---------------------------------------------------------------------------------------------- assertions


def graded_ok(r: dict) -> dict:
    assert r["code"] == 0, r["stderr"]
    assert r["json"] is not None
    # every attack here is met by the namespace sandbox; a silent fall-back to limits only would weaken them all
    assert r["json"]["sandbox"] == "namespaces", r["json"]["notes"]
    return r["json"]


def part(r: dict, gid: str) -> dict:
    return r["by_id"][gid]


def lost(r: dict, gid: str, *statuses: str) -> dict:
    """The part scored 0 (and, if given, has one of ``statuses``)."""
    p = part(r, gid)
    assert p["points"] == 0, p
    assert p["status"] != "passed", p
    if statuses:
        assert p["status"] in statuses, p
    return p


def wrong_metric(r: dict) -> None:
    p = lost(r, "mini_metric_test", "failed")
    assert p["misconception"] == "accuracy_on_imbalanced" and "accuracy" in p["message"], p


def wrong_srm(r: dict) -> None:
    p = lost(r, "mini_srm_test", "failed")
    assert p["misconception"] == "wrong_pvalue", p


def no_secret(r: dict, *secrets: str) -> None:
    text = r["stdout"] + r["stderr"]
    for secret in secrets:
        assert secret not in text, f"{secret!r} reached the report"


def refused(needle: str, *, code: int = 2):
    def check(r: dict) -> None:
        assert r["code"] == code, (r["code"], r["stderr"])
        assert needle in r["stderr"], r["stderr"]
        assert r["stdout"] == "", r["stdout"]
        assert len(r["stderr"].strip().splitlines()) <= 2, r["stderr"]  # argparse: usage + one line; ours: one line

    return check


def _a_patch_checks(r):
    graded_ok(r)
    wrong_metric(r)  # the verdict process's checks.churn.metric_choice ran, not the kernel's patched one
    wrong_srm(r)
    assert r["json"]["score"] == 0


def _a_rebind_checks(r):
    graded_ok(r)
    p = lost(r, "mini_value_test", "failed")
    assert p["message"] == VALUE_FAILED  # the hidden test's `with checks.quiet():` was the course's, not the fake
    assert r["json"]["score"] == 0


def _a_require_direct(r):
    graded_ok(r)
    wrong_srm(r)


def _a_require_sys_modules(r):
    graded_ok(r)
    wrong_metric(r)
    assert r["json"]["score"] == 0


def _a_showtraceback(r):
    out = graded_ok(r)
    p = lost(r, "mini_value_test", "failed")
    assert p["message"] == VALUE_FAILED
    assert out["score"] == 0
    # the later stubs still raise NotImplementedError (their tracebacks hidden): nothing passes
    assert {x["status"] for x in out["parts"]} <= {"failed", "not attempted", "error"}


def _a_transformer(r):
    out = graded_ok(r)
    assert out["score"] == 0
    for p in out["parts"]:  # every later cell, the grader's own requests included, became `pass`: nothing passes
        assert (p["points"], p["status"], p["misconception"]) == (0, "error", "unreadable"), p
        assert "got no answer from your notebook's kernel" in p["message"], p  # not "timed out": nothing ran long


def _a_clear_output(r):
    out = graded_ok(r)
    p = lost(r, "mini_value_test", "failed")
    assert p["message"] == VALUE_FAILED
    assert out["score"] == 0
    # the cleared NotImplementedError of the stubs is still seen: the verdict's test raised it, not the kernel's output
    assert part(r, "mini_double_test")["status"] == "not attempted"


def _a_reference_import(r):
    graded_ok(r)
    # the kernel's mlcasebook.checks is the public stub: `reference_srm_pvalue` there is a skipped check, whose
    # result is no number
    p = lost(r, "mini_srm_test", "failed")
    assert p["misconception"] == "raised" and "TypeError" in p["message"], p
    assert r["json"]["score"] == 0


def _a_read_check_source(r):
    graded_ok(r)
    wrong_metric(r)  # the kernel's checks are the public stub: their source holds no misconception names


def _a_always_equal(r):
    graded_ok(r)
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED


def _a_float_subclass(r):
    graded_ok(r)
    assert lost(r, "mini_double_test", "failed")["message"] == DOUBLE_FAILED
    assert r["json"]["score"] == 0


def _a_builtins(r):
    graded_ok(r)
    # the verdict's numpy.allclose and math.log are its own: a constant 1e-10 is judged a wrong p-value
    p = lost(r, "mini_srm_test", "failed")
    assert p["misconception"] == "wrong_pvalue", p
    assert part(r, "mini_value_test")["message"] == VALUE_FAILED


def _a_write(r):
    graded_ok(r)
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED  # no write succeeded
    extra = r["extra"]
    assert extra["course_after"] == extra["course_before"]
    assert extra["hacked"] == [] and extra["new_files"] == []


def _a_read_solutions(r):
    graded_ok(r)
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED  # solutions/ is hidden
    no_secret(r, "BEGIN HIDDEN TESTS", "assert value == 42", "assert double(21)", HIDDEN_COUNTS)


def _a_read_progress(r):
    graded_ok(r)
    assert lost(r, "mini_double_test", "failed")["message"] == DOUBLE_FAILED
    no_secret(r, "PROGRESS-SECRET", "GRADEBOOK-SECRET")


def _a_network(r):
    graded_ok(r)
    wrong_metric(r)
    assert r["extra"]["accepted"] == 0  # not one connection reached the grader's machine


def _a_detach(r):
    graded_ok(r)
    p = part(r, "mini_double_test")
    assert (p["points"], p["status"]) == (2, "passed")  # the part is graded; the processes are gone (common check)
    assert r["json"]["score"] == 2


def _a_forged_pickle(r):
    out = graded_ok(r)
    assert r["extra"]["pwned"] is False  # the verdict process (outside the sandbox) never ran the learner's pickle
    for p in out["parts"]:  # every answer read after the patch is refused as not plain data
        assert p["points"] == 0 and p["status"] == "error" and p["misconception"] == "unreadable", p
        assert "could not read your answer" in p["message"], p


def _a_env(r):
    graded_ok(r)
    p = part(r, "mini_value_test")
    assert (p["points"], p["status"]) == (1, "passed"), p  # the answer would have raised had it seen the grader's env
    no_secret(r, SECRET_VALUE)


def _b_loop_blank(r1, r2):
    for r in (r1, r2):
        out = graded_ok(r)
        p = part(r, "mini_value_test")
        assert (p["points"], p["status"]) == (0, "timed out"), p
        assert f"ran longer than the {LIMIT} s limit" in p["message"]
        for gid in ("mini_double_test", "mini_srm_test", "mini_metric_test"):
            assert (part(r, gid)["points"], part(r, gid)["status"]) == (0, "not attempted"), part(r, gid)
        assert out["score"] == 0
    assert r1["json"]["parts"] == r2["json"]["parts"]


def _b_loop_good(r1, r2):
    for r in (r1, r2):
        out = graded_ok(r)
        p = part(r, "mini_double_test")
        assert (p["points"], p["status"]) == (0, "timed out"), p
        assert f"mini_double ran longer than the {LIMIT} s limit" in p["message"] and "NameError" not in p["message"]
        assert out["score"] == 4  # only the part whose cell looped was lost
        assert "not defined" not in json.dumps(out)
    assert r1["json"]["parts"] == r2["json"]["parts"]


def _b_sigint_ignored(r):
    out = graded_ok(r)
    p = part(r, "mini_value_test")
    assert (p["points"], p["status"]) == (0, "timed out") and "limit" in p["message"], p
    assert out["score"] == 5


def _b_loop_in_hidden_call(r):
    out = graded_ok(r)
    p = part(r, "mini_double_test")
    assert (p["points"], p["status"]) == (0, "timed out"), p
    assert f"hidden test ran longer than the {LIMIT} s limit while using your code" in p["message"]
    no_secret(r, HIDDEN_ARG)
    assert out["score"] == 4


def _b_sleep(r):
    out = graded_ok(r)
    p = part(r, "mini_srm_test")
    assert (p["points"], p["status"]) == (0, "timed out") and "mini_srm ran longer" in p["message"], p
    assert out["score"] == 4


def _b_exit(r):
    out = graded_ok(r)
    p = part(r, "mini_metric_test")
    assert (p["points"], p["status"]) == (0, "error") and "crashed the Python kernel" in p["message"], p
    assert out["score"] == 5


def _b_memory(r):
    out = graded_ok(r)
    p = part(r, "mini_value_test")
    assert p["points"] == 0 and p["status"] == "error", p
    assert "MemoryError" in p["message"] or "crashed" in p["message"], p
    assert out["score"] == 5  # the other parts were graded


def _b_fork_many(r):
    graded_ok(r)
    # the process limit stopped the forks before 700 (and the sandbox's PID namespace took all of them down)
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED


def _b_print_flood(r):
    out = graded_ok(r)
    assert out["score"] == 6
    assert any("printed more than 1 MB" in n and "dropped" in n for n in out["notes"]), out["notes"]


def interrupted(r):
    assert r["code"] == 130, (r["code"], r["stderr"])
    lines = r["stderr"].strip().splitlines()
    assert lines == ["mlcasebook check: interrupted; nothing was changed."], r["stderr"]
    assert r["stdout"] == ""
    assert r["seconds"] < 20, r["seconds"]  # it stops promptly, not after the cell's 60 s
    assert any(name.startswith("mlcasebook-grade-") for name in r["temp_at_signal"])  # it was mid-grading


def _c_raise_args(r):
    graded_ok(r)
    p = lost(r, "mini_double_test", "error")
    assert "ValueError" in p["message"] and "double" in p["message"], p
    assert 'raise ValueError(f"called with {x!r}")' in p["message"], p  # the learner's own line ...
    no_secret(r, HIDDEN_ARG, "called with 1")  # ... never the hidden input it was called with


def _c_raise_history(r):
    graded_ok(r)
    p = lost(r, "mini_srm_test", "failed", "error")
    assert "RuntimeError" in p["message"], p
    no_secret(r, HIDDEN_COUNTS, "28663", "52000", "srm_function(", "BEGIN HIDDEN")


def _c_frame_snoop(r):
    graded_ok(r)
    assert lost(r, "mini_double_test", "failed")["message"] == DOUBLE_FAILED  # the frames held no hidden test


def _c_print_leak(r):
    graded_ok(r)
    wrong_srm(r)
    no_secret(r, HIDDEN_COUNTS, "was called with")


def _c_passing_messages(r):
    out = graded_ok(r)
    assert out["score"] == out["max_score"] == 6
    for p in out["parts"]:
        assert p["status"] == "passed", p
        assert not re.search(r"\d", p["message"]), p  # no count of hidden cases, no hidden number
    assert "every split tried" in part(r, "mini_srm_test")["message"]
    no_secret(r, HIDDEN_ARG, HIDDEN_COUNTS)


def _d_bom(r):
    out = graded_ok(r)
    assert out["score"] == 0 and {p["status"] for p in out["parts"]} == {"not attempted"}
    assert out["source"] == "solutions/00_demo/mini.ipynb"


def _d_other_name(r):
    out = graded_ok(r)
    assert out["source"] == "solutions/00_demo/mini.ipynb"
    assert out["score"] == 6
    assert any(n.startswith("Graded as 00_demo/mini") and "saved as 00_demo/other" in n for n in out["notes"]), out["notes"]


def _d_deleted_test(r):
    out = graded_ok(r)
    assert part(r, "mini_double_test")["points"] == 2  # re-inserted from the course and graded
    assert any("mini_double_test was deleted" in n for n in out["notes"]), out["notes"]


def _d_edited_test(r):
    out = graded_ok(r)
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED  # the edit (`pass`) did not help
    assert any("mini_value_test was edited" in n and "restored" in n for n in out["notes"]), out["notes"]
    assert out["score"] == 5


def _d_duplicated(r):
    out = graded_ok(r)
    assert any("mini_value appears twice" in n for n in out["notes"]), out["notes"]
    assert lost(r, "mini_value_test", "failed")["message"] == VALUE_FAILED  # only the first copy is graded
    assert out["score"] == 5


SHAPE = "is JSON but not a Jupyter notebook"


@dataclass
class Case:
    id: str
    runs: tuple[str, ...]
    check: Callable
    old: str  # would the previous engine (478daf7) fail this case? judged from its code
    marks: tuple = ()


CASES = [
    # ---- A. cheats: a blank or wrong notebook must not gain a point
    Case("A-monkeypatch-check", ("a_patch_checks",), _a_patch_checks,
         "fails: the hidden test called the kernel's checks.churn.metric_choice, which the learner replaced"),
    Case("A-rebind-global-checks", ("a_rebind_checks",), _a_rebind_checks,
         "fails: the hidden test's `with checks.quiet():` used the learner's object, whose __exit__ swallowed the assert"),
    Case("A-patch-CheckResult.require", ("a_require",), _a_require_direct,
         "fails: require() was patched in the very process that ran the hidden test"),
    Case("A-patch-require-via-sys.modules", ("a_require",), _a_require_sys_modules,
         "fails: same, reached through sys.modules"),
    Case("A-showtraceback-noop", ("a_showtraceback",), _a_showtraceback,
         "fails: a hidden test's AssertionError produced no error output, and determine_grade gave full points"),
    Case("A-input-transformer", ("a_transformer",), _a_transformer,
         "fails: every later cell, hidden tests included, became `pass` and scored full points (and before the fix "
         "in execute._test this engine called each part 'timed out' and replayed the notebook once per test)"),
    Case("A-post-run-cell-clear-output", ("a_clear_output",), _a_clear_output,
         "fails: the hook cleared each test cell's error output before nbgrader scored it"),
    Case("A-import-reference-answer", ("a_reference",), _a_reference_import,
         "fails: the real mlcasebook.checks was importable in the kernel, so reference_srm_pvalue passed"),
    Case("A-read-check-source", ("a_reference",), _a_read_check_source,
         "fails: inspect.getsource gave the real check, which names the right metric"),
    Case("A-eq-always-true", ("a_equal",), _a_always_equal,
         "fails: `value == 42` ran in the kernel on the learner's object"),
    Case("A-float-subclass-eq", ("a_equal",), _a_float_subclass,
         "fails: double() returned a float subclass whose __eq__ is always true"),
    Case("A-patch-isinstance-isclose", ("a_builtins",), _a_builtins,
         "fails: the check ran in the kernel with the patched math.log/np.allclose, so 1e-10 was 'close' on every split"),
    Case("A-write-solutions-and-checks", ("a_write",), _a_write,
         "fails: no sandbox, the kernel could append to solutions/ and src/mlcasebook/checks/"),
    Case("A-read-hidden-tests", ("a_read_solutions",), _a_read_solutions,
         "fails: solutions/ was readable, so the answer was read from the hidden test"),
    Case("A-read-progress-and-gradebook", ("a_read_progress",), _a_read_progress,
         "fails: the progress history and gradebook.db were readable"),
    Case("A-network", ("a_network",), _a_network,
         "fails: the kernel had the host's network and connected to the listener"),
    Case("A-detached-process", ("a_detach",), _a_detach,
         "fails: a process in its own session outlived the kernel's shutdown (no PID namespace)"),
    Case("A-forged-channel-pickle", ("a_forged_pickle",), _a_forged_pickle,
         "n/a: no channel (the hidden tests ran in the kernel, where the learner could already run anything)"),
    Case("A-environment-dump", ("a_env",), _a_env,
         "fails: the kernel inherited the grader's whole environment, sentinel included"),
    # ---- B. time-outs, crashes, floods, interrupts
    Case("B-loop-first-cell-blank-2-runs", ("b_loop_blank_1", "b_loop_blank_2"), _b_loop_blank,
         "passes: the interrupt stopped `while True: pass` and the message was the same; it ran hidden tests unsandboxed"),
    Case("B-loop-in-good-notebook-2-runs", ("b_loop_good_1", "b_loop_good_2"), _b_loop_good,
         "fails: the interrupted cell had defined double(), so its test passed on a timed-out cell (state read past)"),
    Case("B-loop-ignoring-sigint", ("b_sigint_ignored",), _b_sigint_ignored,
         "passes: the probe failed, the cell was replaced and the notebook re-run (after an extra 10 s grace)"),
    Case("B-loop-only-in-hidden-call", ("b_loop_in_hidden_call",), _b_loop_in_hidden_call,
         "fails on the message only: the hidden test cell itself was interrupted in the kernel (0, timed out)"),
    Case("B-sleep-forever", ("b_sleep",), _b_sleep,
         "passes: the interrupt raised KeyboardInterrupt in time.sleep, before srm_pvalue was defined"),
    Case("B-os-exit-crash", ("b_exit",), _b_exit, "passes: DeadKernelError, replaced and re-run"),
    Case("B-huge-memory", ("b_memory",), _b_memory,
         "fails: no --memory option (exit 2) and no memory limit: the machine swapped or the OOM killer chose "
         "(and before MALLOC_ARENA_MAX in sandbox.kernel_env this engine could not start a kernel under 512 MB)"),
    Case("B-fork-beyond-process-limit", ("b_fork_many",), _b_fork_many,
         "fails: no process limit at all (and the children outlived the kernel)",
         marks=(pytest.mark.xfail(os.geteuid() == 0, strict=True, reason=(
             "RLIMIT_NPROC is not enforced for real uid 0: grading as root (this container), the jail runs the kernel "
             "as root, so 700 forks succeed; only a pids cgroup or a non-root uid in the sandbox would bound them. "
             "The PID namespace still kills every child when grading ends (no leftovers).")),)),
    Case("B-print-flood", ("b_print_flood",), _b_print_flood,
         "fails: all output was kept in memory and no note said it was dropped"),
    Case("B-ctrl-c-process-group", ("b_sigint",), interrupted,
         "fails: no handler: a KeyboardInterrupt traceback, exit status -2 instead of 130"),
    Case("B-sigterm", ("b_sigterm",), interrupted,
         "fails: SIGTERM killed the grader without cleanup; the kernel (own session) and its temporary folder were left"),
    Case("B-ctrl-c-while-learner-ignores-sigint", ("b_sigint_stubborn",), interrupted,
         "fails: same as Ctrl-C, and the kernel ignoring SIGINT was left running"),
    # ---- C. messages leak nothing
    Case("C-raise-with-hidden-args", ("c_raise",), _c_raise_args,
         "fails: the message quoted the exception text, `called with 1234567`"),
    Case("C-raise-with-In-history", ("c_raise",), _c_raise_history,
         "fails: the check quoted the exception text (`Your code raised RuntimeError: ...` with the counts)"),
    Case("C-frame-snooping", ("c_snoop",), _c_frame_snoop,
         "fails: the caller's frame was the hidden test cell in the kernel, its source in In/_ih"),
    Case("C-print-hidden-inputs", ("c_snoop",), _c_print_leak,
         "passes: printed output was not in the report (but it was in the executed copy)"),
    Case("C-passing-messages-count-nothing", ("good",), _c_passing_messages,
         "passes: the passing sentences named no count"),
    # ---- D. malformed input
    Case("D-object-without-cells", ("d_hello",), refused(f"{SHAPE}: it has no list of cells"),
         "fails: nbformat.read raised ValidationError (cannot convert from version 1), not caught: traceback, exit 1"),
    Case("D-json-list", ("d_list",), refused(f"{SHAPE}: its top level is a JSON list"),
         "fails: nbformat.read crashed on a list (AttributeError, exit 1 with a traceback)"),
    Case("D-source-is-int", ("d_source_int",), refused(f"{SHAPE}: the source of cell 2 is not text"),
         "fails: nbformat read it; the rebuild crashed on `.strip()` of an int: traceback, exit 1"),
    Case("D-metadata-is-string", ("d_metadata_string",), refused(f"{SHAPE}: its metadata is not an object"),
         "fails: nbformat.read raised ValidationError, not caught: traceback, exit 1"),
    Case("D-nbgrader-metadata-is-string", ("d_nbgrader_string",),
         refused(f"{SHAPE}: the nbgrader metadata of cell 2 is not an object"),
         "fails: `.get` on a string: AttributeError traceback"),
    Case("D-nbformat-3", ("d_nbformat3",), refused(f"{SHAPE}: it is not a version-4 notebook (nbformat = 3)"),
         "fails: nbformat.read raised ValidationError (missing key: worksheets), not caught: traceback, exit 1"),
    Case("D-empty-file", ("d_empty",), refused("is not valid notebook JSON"), "passes: NotJSONError"),
    Case("D-binary-garbage", ("d_binary",), refused("is not a text notebook (it is not UTF-8)"),
         "fails on the message only: UnicodeDecodeError is a ValueError, reported as `not valid notebook JSON`"),
    Case("D-invalid-utf8", ("d_invalid_utf8",), refused("is not a text notebook (it is not UTF-8)"),
         "fails on the message only: reported as `not valid notebook JSON`"),
    Case("D-utf8-bom-graded", ("d_bom",), _d_bom, "fails: json refused the BOM, the notebook was called corrupt"),
    Case("D-folder", ("d_folder",), refused("is a folder"), "passes"),
    Case("D-missing-path", ("d_missing",), refused("does not exist"), "passes"),
    Case("D-txt-file", ("d_txt",), refused("is not a Jupyter notebook (.ipynb)"), "passes"),
    Case("D-timeout-nan", ("d_timeout_nan",), refused("--timeout: must be a positive number of seconds, not 'nan'"),
         "fails: float('nan') accepted: every cell timed out at once"),
    Case("D-timeout-zero", ("d_timeout_zero",), refused("--timeout: must be a positive number of seconds, not '0'"),
         "fails: accepted; nbclient waited forever (0 = no limit)"),
    Case("D-timeout-negative", ("d_timeout_negative",), refused("must be a positive number of seconds, not '-5'"),
         "fails: accepted"),
    Case("D-timeout-abc", ("d_timeout_abc",), refused("must be a positive number of seconds, not 'abc'"),
         "fails on the message only: argparse's `invalid float value: 'abc'`"),
    Case("D-timeout-inf", ("d_timeout_inf",), refused("must be a positive number of seconds, not 'inf'"),
         "fails: accepted: an endless loop was never stopped"),
    Case("D-memory-zero", ("d_memory_zero",), refused("--memory: must be a positive whole number, not '0'"),
         "fails: no --memory option (argparse: unrecognized arguments)"),
    Case("D-saved-under-other-case-name", ("d_other_name",), _d_other_name,
         "fails: found by name, graded against other.ipynb: 0/1 and no note"),
    Case("D-foreign-shares-only-setup", ("d_foreign_setup",),
         refused("has none of the graded cells of any notebook in solutions/"),
         "fails: named mini.ipynb, it was found by name and `setup` counted as shared: graded 0/6"),
    Case("D-nbgrader-metadata-stripped", ("d_stripped",),
         refused("(or its nbgrader cell metadata was removed)"),
         "fails on the message only: found by name, then `none of the graded cells of solutions/00_demo/mini.ipynb`"),
    Case("D-deleted-test-cell", ("d_repaired",), _d_deleted_test, "passes"),
    Case("D-edited-test-cell", ("d_repaired",), _d_edited_test, "passes"),
    Case("D-duplicated-answer-cell", ("d_duplicated",), _d_duplicated, "passes"),
]


def test_catalogue_is_complete():
    counts = {}
    for case in CASES:
        counts[case.id[0]] = counts.get(case.id[0], 0) + 1
    assert len(CASES) >= 45 and len({c.id for c in CASES}) == len(CASES)
    assert all(counts[k] >= 5 for k in "ABCD"), counts
    assert {r for c in CASES for r in c.runs} == set(RUNS)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_hostile(case: Case, graded):
    results = [graded(name) for name in case.runs]
    for name, r in zip(case.runs, results, strict=True):
        assert r["sha_after"] == r["sha_before"], f"{name}: the learner's file was changed"
        assert r["leftovers"] == [], f"{name}: processes outlived grading: {r['leftovers']}"
        assert r["temp_left"] == [], f"{name}: temporary folders left: {r['temp_left']}"
        assert "Traceback" not in r["stderr"], r["stderr"]
    case.check(*results)
