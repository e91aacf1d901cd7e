"""The verdict process: runs the hidden tests, outside the learner's kernel, with its own unpatched libraries.

Started by the grader before the learner's kernel runs any cell (``python -I -m mlcasebook.grading.verdict``),
it imports ``mlcasebook`` first and runs the notebook's ``setup`` cell in its own namespace, so the names a
hidden test uses (``checks``, ``datasets``, ``np``, the case's constants) are this process's. For each hidden
test cell it fetches only the names the cell reads from the learner's notebook, through the channel
(:mod:`mlcasebook.grading.channel`), runs the test, and reports the test cell's outputs as nbgrader would
record them (so ``determine_grade`` scores them) plus the check's misconception id and one safe sentence.

Protocol on inherited pipes, each message a length-prefixed pickle (grader and verdict trust each other; the
learner's bytes travel inside as opaque ``bytes`` and are read only by :func:`channel.loads`):
``("setup", source)`` → ``("ready", error)``; ``("test", grade_id, source, kernel)`` → any number of
``("ask", request)`` ← ``("answer", response)`` or ``("closed", why)``, then ``("done", result)``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import pickle
import struct
import sys
import warnings

_HEADER = struct.Struct("!Q")


def send(stream, message) -> None:
    data = pickle.dumps(message, protocol=5)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the other end closed the pipe")
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other end closed the pipe")
    return pickle.loads(data)


def free_names(source: str) -> list[str]:
    """Names a test cell reads that it does not assign itself (candidates to fetch from the learner)."""
    tree = ast.parse(source)
    loaded, stored = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded.append(node.id) if isinstance(node.ctx, ast.Load) else stored.add(node.id))
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stored.add(node.name)
    return sorted({n for n in loaded if n not in stored and not hasattr(builtins, n)})


class _Link:
    """The channel's transport inside the verdict process: asks the grader, which asks the learner's kernel."""

    def __init__(self, incoming, outgoing):
        self.incoming, self.outgoing = incoming, outgoing
        self.remotes: dict = {}  # reference id -> Remote, for the life of one kernel
        self.kernel = None

    def new_kernel(self, generation) -> None:
        """A replay started a fresh kernel: references to the old one's objects mean nothing any more."""
        if generation != self.kernel:
            self.kernel, self.remotes = generation, {}

    def ask(self, op, target, args):
        from mlcasebook.grading import channel

        send(self.outgoing, ("ask", channel.dumps((op, target, args))))
        kind, payload = receive(self.incoming)
        if kind == "closed":
            raise channel.ChannelClosed(payload)
        reply = channel.loads(payload, self)
        if not isinstance(reply, tuple) or not reply:
            raise channel.UnsafeData("malformed answer")
        if reply[0] == "ok" and len(reply) == 2:
            return reply[1]
        if reply[0] == "raise" and len(reply) == 4:
            _, ename, where, stub = reply
            if stub is True:
                raise NotImplementedError()
            function, line, code = where if isinstance(where, tuple) and len(where) == 3 else ("", None, "")
            raise channel.LearnerError(str(ename)[:60], str(function)[:60], line if isinstance(line, int) else None,
                                       str(code)[:120])
        raise channel.UnsafeData("malformed answer")


def explain(exc: BaseException) -> tuple[str, str, str | None]:
    """(ename, one safe sentence, misconception id) for an exception a hidden test ended with."""
    from mlcasebook.checks.result import CheckFailed, NotAttempted
    from mlcasebook.grading import channel

    if isinstance(exc, (CheckFailed, NotAttempted)):
        return type(exc).__name__, str(exc), getattr(exc, "misconception", None)
    if isinstance(exc, channel.LearnerError):
        return "LearnerError", exc.sentence() + " — fix it and run the cell again.", "raised"
    if isinstance(exc, NotImplementedError):
        return "NotImplementedError", "", None
    if isinstance(exc, AssertionError):
        return "AssertionError", " ".join(str(exc).split()), None
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        return "NameError", (f"`{exc.name}` is not defined in your notebook: run the answer cell that defines it "
                             "(or define it under that name)."), "undefined"
    if isinstance(exc, channel.UnsafeData):
        return "UnsafeData", ("The hidden test could not read your answer: it must be plain data (numbers, strings, "
                              "lists, dicts, numpy, pandas or scikit-learn objects) or your own function."), "unreadable"
    return type(exc).__name__, f"The hidden test could not use your answer ({type(exc).__name__}).", "unusable"


def run_test(base: dict, source: str, link: _Link) -> dict:
    """Run one hidden test cell; return its outputs (nbformat dicts), status and message."""
    from mlcasebook.grading import channel

    ns = dict(base)
    out = io.StringIO()
    result = {"outputs": [], "message": "", "misconception": None, "abandoned": None}
    try:
        wanted = [n for n in free_names(source) if n not in ns]
        if wanted:
            ns.update(link.ask("get", None, (wanted,)))
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(tree, "<hidden test>", "exec"), ns)  # noqa: S102 - the course's own hidden test
            value = eval(compile(ast.Expression(last.value), "<hidden test>", "eval"), ns) if last else None
        if value is not None:
            text = repr(value) if type(value) in (int, float, bool, str) else "<value>"
            result["outputs"].append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                                      "data": {"text/plain": text}})
    except channel.ChannelClosed as exc:
        result["abandoned"] = exc.why
    except BaseException as exc:  # every way a hidden test can end: it is the learner's part that failed
        if isinstance(exc, KeyboardInterrupt | SystemExit) and not isinstance(exc.__context__, channel.LearnerError):
            raise
        ename, message, misconception = explain(exc)
        result.update(message=message, misconception=misconception)
        result["outputs"].append({"output_type": "error", "ename": ename, "evalue": message, "traceback": []})
    text = out.getvalue()
    if text:
        result["outputs"].insert(0, {"output_type": "stream", "name": "stdout", "text": text[-4000:]})
    return result


def main() -> int:
    incoming = os.fdopen(os.dup(0), "rb")
    outgoing = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    import mlcasebook.checks  # noqa: F401 - before any learner object exists
    from mlcasebook.checks import cases_cache
    from mlcasebook.checks import result as check_result

    check_result.IN_VERDICT = True
    link = _Link(incoming, outgoing)
    base: dict = {"__name__": "__hidden_tests__"}
    while True:
        try:
            message = receive(incoming)
        except EOFError:
            return 0
        kind = message[0]
        if kind == "setup":
            base = {"__name__": "__hidden_tests__"}
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(message[1], "<setup>", "exec"), base)  # noqa: S102
                if getattr(base.get("datasets"), "__name__", None) == "mlcasebook.datasets" and os.environ.get(
                        cases_cache.ENV):  # a warm verdict: hidden data built once per zygote
                    base["datasets"] = cases_cache.Generators(base["datasets"])
                send(outgoing, ("ready", None))
            except Exception as exc:
                send(outgoing, ("ready", f"{type(exc).__name__}: {exc}"))
        elif kind == "test":
            link.new_kernel(message[3] if len(message) > 3 else None)
            send(outgoing, ("done", run_test(base, message[2], link)))
        elif kind == "quit":
            return 0


if __name__ == "__main__":
    sys.exit(main())
