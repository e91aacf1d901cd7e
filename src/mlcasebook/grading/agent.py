"""The learner-kernel end of the grading channel: answers the verdict process's requests about learner objects.

The grader imports this module in the sandboxed kernel before the first cell runs. During a hidden test the
kernel runs ``serve_socket()``, which answers the verdict process's requests, relayed by the grader over a Unix
socket in the channel folder, until the test ends. Values leave
by value when they are plain data (numbers, strings, containers, numpy, pandas, scikit-learn and
imbalanced-learn objects); anything else — the learner's functions, classes and objects — stays here and
leaves as a reference the verdict process can call, read and clone through further requests.

Nothing here is trusted by the verdict process: it reads answers with a restricted unpickler
(:mod:`mlcasebook.grading.channel`), so code in this kernel that patches this module can at most send other
data, exactly as a learner's function could return other data.
"""

from __future__ import annotations

import io
import os
import pickle
import socket
import sys
import traceback
import types

from mlcasebook.grading.channel import FRAME as _FRAME
from mlcasebook.grading.channel import PLAIN_ROOTS as BY_VALUE_ROOTS  # one list for both ends of the channel

BY_VALUE_MODULES = ("mlcasebook.datasets",)
_CALLABLE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType,
                   types.GeneratorType, types.CodeType, types.FrameType, types.LambdaType, type)

_PLAIN = (bool, int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset, pickle.PickleBuffer,
          type(None), type(Ellipsis), slice, range)
_objects: dict[int, object] = {}
_user_ns: dict | None = None
CHANNEL = os.environ.get("MLCASEBOOK_CHANNEL", "")


def install(channel: str) -> None:
    """Remember the learner's namespace and the channel folder (called once, before any learner cell)."""
    global _user_ns, CHANNEL
    CHANNEL = channel
    _user_ns = get_ipython().user_ns  # noqa: F821 - provided by IPython in the kernel


def _by_value(obj) -> bool:
    import numpy as np

    from mlcasebook.grading.channel import RECONSTRUCTORS

    if isinstance(obj, np.ufunc):
        return True
    if isinstance(obj, type):  # a class travels by name; the verdict process decides whether it may be built
        module = obj.__module__ or ""
        return module.split(".")[0] in BY_VALUE_ROOTS or module.startswith(BY_VALUE_MODULES)
    if (getattr(obj, "__module__", None), getattr(obj, "__name__", None)) in RECONSTRUCTORS:
        return True  # the helpers numpy and pandas pickle with travel by name; other functions stay here
    if isinstance(obj, _CALLABLE_TYPES):
        return False
    module = type(obj).__module__ or ""
    return module.split(".")[0] in BY_VALUE_ROOTS or module.startswith(BY_VALUE_MODULES)


def _ref(obj) -> tuple:
    key = id(obj)
    _objects[key] = obj
    kind = type(obj)
    return ("ref", key, kind.__module__, kind.__qualname__, callable(obj))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if obj is None or type(obj) in _PLAIN:
            return None
        return None if _by_value(obj) else _ref(obj)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return _objects[pid[1]]


def _dumps(reply: tuple) -> bytes:
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=5).dump(reply)
    except Exception:  # something inside does not pickle: the whole value leaves as a reference
        whole = reply[1]

        class _Whole(_Pickler):
            def persistent_id(self, obj):
                return _ref(obj) if obj is whole else super().persistent_id(obj)

        buf = io.BytesIO()
        _Whole(buf, protocol=5).dump(reply)
    return buf.getvalue()


def _where(exc: BaseException) -> tuple[str, int | None, str]:
    """The learner's own frame of an exception: function name, line number in the cell, the line's code."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if name.startswith("<ipython-input") or "ipykernel_" in name or name.startswith("<cell"):
            return frame.name, frame.lineno, (frame.line or "").strip()[:120]
    return "", None, ""


def _reseed() -> None:
    """Before every call of learner code: the same global seeds, so unseeded randomness repeats (the checks used
    to reset NumPy's global seed before calling the learner's function; the call now runs here)."""
    import random

    import numpy as np

    np.random.seed(0)
    random.seed(0)


def _answer(op: str, target, args: tuple):
    if op in ("call", "method"):
        _reseed()
        from sklearn import config_context

        # as the checks did when they called the learner's function in this kernel: skip scikit-learn's
        # repeated parameter validation in the learner's many fits (it changes no result of valid code)
        with config_context(assume_finite=True, skip_parameter_validation=True):
            return _plain_answer(op, target, args)
    return _plain_answer(op, target, args)


def _plain_answer(op: str, target, args: tuple):
    if op == "get":
        ns = _user_ns if _user_ns is not None else sys.modules["__main__"].__dict__
        return {name: ns[name] for name in args[0] if name in ns}
    if op == "getattr":
        return getattr(target, args[0])
    if op == "call":
        return target(*args[0], **args[1])
    if op == "method":
        return getattr(target, args[0])(*args[1], **args[2])
    if op == "getitem":
        return target[args[0]]
    if op == "len":
        return len(target)
    if op == "list":
        return list(target)
    if op == "contains":
        return args[0] in target
    if op == "bool":
        return bool(target)
    if op == "str":
        return str(target)
    if op == "float":
        return float(target)
    if op == "int":
        return int(target)
    if op == "index":
        return target.__index__()
    if op == "array":
        import numpy as np

        return np.asarray(target, dtype=args[0])
    if op == "vars":
        return dict(vars(target))
    if op == "clone":
        from sklearn.base import clone

        return clone(target, safe=False)
    raise ValueError(f"unknown request {op!r}")


def _respond(request: bytes) -> bytes:
    op, target, args = _Unpickler(io.BytesIO(request)).load()
    try:
        reply = ("ok", _answer(op, target, args))
    except BaseException as exc:  # the learner's code raised: report its class and the learner's own line
        reply = ("raise", type(exc).__name__, _where(exc), isinstance(exc, NotImplementedError))
    return _dumps(reply)


def serve_socket(name: str = "socket") -> None:
    """Answer requests on the grader's Unix socket in the channel folder until it sends an empty frame.

    One run cell serves all of a hidden test's requests (the grader starts it at the test's first request), so
    a request costs a socket round trip instead of an execute request each; the kernel's main thread runs
    the learner's code, exactly as a cell would."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.path.join(CHANNEL, name))
    with conn, conn.makefile("rwb") as stream:
        while True:
            head = stream.read(_FRAME.size)
            if len(head) < _FRAME.size:
                return
            (size,) = _FRAME.unpack(head)
            if size == 0:
                return
            reply = _respond(stream.read(size))
            stream.write(_FRAME.pack(len(reply)) + reply)
            stream.flush()
