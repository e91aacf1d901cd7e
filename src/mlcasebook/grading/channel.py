"""The verdict-process end of the grading channel: learner objects as plain data or as remote references.

Hidden tests run in the verdict process, never in the learner's kernel. A name a hidden test reads from the
learner's notebook arrives here through :class:`Channel`:

* plain data (numbers, strings, containers, numpy, pandas, fitted scikit-learn / imbalanced-learn objects)
  arrives by value, read by :func:`loads`, a restricted unpickler: it builds only classes from the scientific
  stack (minus those that touch files, processes or the network) and the reconstruction helpers those classes
  pickle with, and refuses everything else. The value is then an object of this process, run by this
  process's own, unpatched libraries;
* anything else — the learner's functions, classes, objects — arrives as a :class:`Remote`: calling it, reading
  an attribute, indexing, ``len``, ``bool``, ``np.asarray``, ``clone`` run in the learner's kernel and answer
  with data again. ``isinstance(remote, Pipeline)`` sees the class the object claims, so checks keep their
  signatures; ``==`` and ``hash`` stay local (identity), so an object whose ``__eq__`` is always true proves
  nothing here.

An exception raised by the learner's code comes back as :class:`LearnerError` (class name and the learner's own
line only, never its text) or as ``NotImplementedError`` (the release stub).
"""

from __future__ import annotations

import importlib
import io
import pickle
import struct

import numpy as np

# not bytes or bytearray: called with a number they allocate that many bytes (protocol 5 never calls them)
_SAFE_BUILTINS = frozenset({"list", "dict", "set", "frozenset", "tuple", "slice", "range",
                            "complex", "int", "float", "str", "bool", "object", "NoneType", "Ellipsis"})
#: top-level packages whose objects may cross by value (the agent sends these; this side still checks each class)
PLAIN_ROOTS = frozenset({"builtins", "numpy", "pandas", "sklearn", "imblearn", "scipy", "collections", "datetime",
                         "decimal", "fractions"})
_CLASS_PREFIXES = ("numpy", "pandas", "sklearn", "imblearn", "scipy.sparse", "scipy.stats", "collections", "datetime",
                   "decimal", "fractions", "mlcasebook.datasets")
# classes that read files, start processes or call what they are given: never built from learner bytes
_DENIED = ("numpy.memmap", "numpy.lib", "numpy.f2py", "numpy.testing", "numpy.distutils", "numpy.ctypeslib",
           "pandas.io", "pandas.plotting", "pandas.core.computation", "pandas.util", "pandas._testing", "pandas.compat",
           "pandas.api", "scipy.stats._mstats",  "sklearn.datasets", "sklearn.utils.parallel", "sklearn.utils._joblib",
           "sklearn.externals", "sklearn.utils._testing", "imblearn.datasets", "imblearn.utils._testing")
_DENIED_NAMES = frozenset({"memmap", "Parallel", "Memory", "DataSource", "HDFStore", "ExcelWriter", "ExcelFile",
                           "vectorize", "partial"})
RECONSTRUCTORS = frozenset({
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.ma.core", "_mareconstruct"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas._libs.tslibs.nattype", "_nat_unpickle"), ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"), ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"), ("pandas.core.indexes.period", "_new_PeriodIndex"),
    ("pandas.core.indexes.multi", "_new_MultiIndex"),
    ("copyreg", "_reconstructor"), ("_codecs", "encode"),
})

#: length prefix of a frame on the channel socket (grader <-> agent); an empty frame ends a test
FRAME = struct.Struct("<Q")


class UnsafeData(pickle.UnpicklingError):
    """The learner's kernel sent something that is not plain data."""


class LearnerError(Exception):
    """The learner's code raised while a hidden test used it. Only the class and the learner's own line travel."""

    def __init__(self, ename: str, function: str = "", line: int | None = None, code: str = ""):
        self.ename, self.function, self.line, self.code = ename, function, line, code
        super().__init__(self.sentence())

    def sentence(self) -> str:
        where = ""
        if self.function and self.function != "<module>":
            where = f" in your function {self.function}"
        if self.line:
            where += f" (line {self.line}" + (f": `{self.code}`" if self.code else "") + ")"
        return f"Your code raised {self.ename}{where}"


class LearnerAttributeError(LearnerError, AttributeError):
    """The learner's object has no such attribute (so ``getattr(remote, name, default)`` and ``hasattr`` work)."""


class ChannelClosed(BaseException):
    """The learner's kernel stopped answering (time-out or crash): the hidden test is abandoned."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(why)


def _allowed_class(module: str, name: str, obj) -> bool:
    if not isinstance(obj, type) or name in _DENIED_NAMES or "." in name:
        return False
    if module == "builtins":
        return name in _SAFE_BUILTINS
    if module.startswith(_DENIED) or obj.__module__.startswith(_DENIED):
        return False
    return module.startswith(_CLASS_PREFIXES) and obj.__module__.startswith(_CLASS_PREFIXES + ("builtins",))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, channel):
        super().__init__(file)
        self.channel = channel

    def find_class(self, module, name):
        if (module, name) in RECONSTRUCTORS:
            return super().find_class(module, name)
        if module.split(".")[0] not in PLAIN_ROOTS | {"mlcasebook"}:
            raise UnsafeData(f"{module}.{name} is not plain data")
        try:
            obj = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise UnsafeData(f"{module}.{name} cannot be found") from exc
        if isinstance(obj, np.ufunc) or _allowed_class(module, name, obj):
            return obj
        raise UnsafeData(f"{module}.{name} is not plain data")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "ref" and isinstance(pid[1], int)):
            raise UnsafeData("malformed reference")
        known = getattr(self.channel, "remotes", None)
        if known is not None and pid[1] in known:  # the same learner object is the same reference (stable id)
            return known[pid[1]]
        remote = Remote(self.channel, pid[1], str(pid[2]), str(pid[3]), bool(pid[4]))
        if known is not None:
            known[pid[1]] = remote
        return remote


_loading = [0]


def loads(data: bytes, channel=None):
    """Read bytes from the learner's kernel: plain data, or :class:`Remote` references; anything else refused.

    While reading, a reference is never called (a pickle that tries to use one as a constructor is refused).
    """
    _loading[0] += 1
    try:
        return _Unpickler(io.BytesIO(data), channel).load()
    finally:
        _loading[0] -= 1


def _strings(codes, values, dtype):
    """A pandas string column sent by :class:`_Pickler` as codes into its distinct values; built in the kernel."""
    import pandas as pd

    return pd.array(values.take(codes), dtype=dtype)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if type(obj) is Remote:
            return ("ref", object.__getattribute__(obj, "_ref"))
        return None

    def reducer_override(self, obj):
        return compact_strings(obj)


def compact_strings(obj):
    """A pickler's ``reducer_override``: a long pandas string column (``str`` dtype, Python storage) travels as
    integer codes and its distinct values. Pickling it string by string took 0.13 s and its unpickling 0.07 s for
    a hidden experiment's 560,000 rows, measured; this way 0.07 s and 0.03 s, same dtype and values, missing ones
    included."""
    import sys

    pd = sys.modules.get("pandas")
    if pd is None or type(obj) is not pd.arrays.StringArray or len(obj) < 10_000:
        return NotImplemented
    codes, uniques = pd.factorize(obj)
    values = np.append(np.asarray(uniques, dtype=object), np.array([obj.dtype.na_value], dtype=object))
    codes[codes < 0] = len(uniques)
    return _strings, (codes.astype(np.int32), values, obj.dtype)


def dumps(value) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(value)
    return buf.getvalue()


def _local_class(module: str, qualname: str):
    """The class a remote object claims, if it is one of the scientific stack's (for isinstance)."""
    if "." in qualname or module.split(".")[0] not in {"sklearn", "imblearn", "numpy", "pandas", "scipy", "builtins"}:
        return Remote
    try:
        obj = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError):
        return Remote
    return obj if isinstance(obj, type) else Remote


_FORWARDED = frozenset({"__sklearn_tags__", "__sklearn_is_fitted__", "__name__", "__qualname__", "__doc__",
                        "__wrapped__", "__self__", "__func__", "__code__"})


class Remote:
    """A learner object that stays in the learner's kernel; every use is a request answered with data."""

    def __init__(self, channel, ref: int, module: str, qualname: str, is_callable: bool):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", (module, qualname))
        object.__setattr__(self, "_callable", is_callable)

    def _ask(self, op: str, *args):
        channel = object.__getattribute__(self, "_channel")
        if _loading[0]:
            raise UnsafeData("a reference to a learner object was used while reading data")
        if channel is None:
            raise ChannelClosed("no learner kernel to ask")
        return channel.ask(op, self, args)

    @property
    def __class__(self):  # isinstance(remote, Pipeline) sees the class the learner's object has
        return _local_class(*object.__getattribute__(self, "_type"))

    @property
    def __dict__(self):  # vars(remote), used by check_is_fitted
        return self._ask("vars")

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__") and name not in _FORWARDED:
            raise AttributeError(name)
        try:
            return self._ask("getattr", name)
        except LearnerError as exc:  # a missing attribute stays an AttributeError: getattr(obj, name, None), hasattr
            if exc.ename != "AttributeError":
                raise
            raise LearnerAttributeError(exc.ename, exc.function, exc.line, exc.code) from None

    def __setattr__(self, name, value):
        raise AttributeError("learner objects are read-only during grading")

    def __call__(self, *args, **kwargs):
        return self._ask("call", args, kwargs)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __len__(self):
        return self._ask("len")

    def __iter__(self):
        return iter(self._ask("list"))

    def __contains__(self, item):
        return self._ask("contains", item)

    def __bool__(self):
        return bool(self._ask("bool")) is True

    def __float__(self):
        return float(self._ask("float"))

    def __int__(self):
        return int(self._ask("int"))

    def __index__(self):
        return int(self._ask("index"))

    def __array__(self, dtype=None, copy=None):
        value = self._ask("array", dtype)
        if not isinstance(value, np.ndarray):
            raise TypeError("your object does not convert to an array")
        return value

    def __str__(self):
        text = self._ask("str")
        return text if type(text) is str else "<your object>"

    def __repr__(self):
        module, qualname = object.__getattribute__(self, "_type")
        return f"<your {qualname} object>"

    def __sklearn_clone__(self):
        return self._ask("clone")

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __reduce__(self):
        raise TypeError("a learner object cannot be copied out of the learner's kernel")
