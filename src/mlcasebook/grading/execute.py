"""Run a rebuilt notebook: learner cells in the sandboxed kernel, hidden tests in the verdict process.

Cells run in notebook order. A learner or locked cell runs in the kernel (nbclient, outputs capped); a hidden
test cell is sent to the verdict process, which reaches learner objects through the channel while the kernel
waits between cells. Public check cells are not run (see :func:`mlcasebook.grading.rebuild.plan`).

Time-outs and crashes are never read past: when a cell runs over its limit, or the kernel dies, both processes
are stopped, and the notebook is replayed from the start on a fresh kernel with that cell replaced by a stand-in
(a learner cell by one that raises, a test by its recorded outcome). Every random thing takes a seed, so the
replay reaches the same state, and the same submission scores the same on every run.
"""

from __future__ import annotations

import copy
import os
import resource
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import default

from mlcasebook.grading import verdict as verdict_protocol
from mlcasebook.grading.channel import FRAME as _FRAME
from mlcasebook.grading.rebuild import SKIP, TEST, TEXT, kind_of
from mlcasebook.grading.sandbox import NAMESPACES, Sandbox, _die_with_parent, last_line, signals_held

TIMED_OUT, CRASHED = "timed out", "crashed"
MAX_OUTPUT_BYTES = 1_000_000  # per cell: more is dropped (and said), so a print loop cannot fill the grader's memory


class GradingAborted(RuntimeError):
    """Grading could not finish (the verdict process would not start, or every cell had to be replaced)."""


@dataclass
class Run:
    replaced: dict[int, str] = field(default_factory=dict)  # cell index -> "timed out" | "crashed"
    verdicts: dict[int, dict] = field(default_factory=dict)  # test cell index -> the verdict process's result
    truncated: set[int] = field(default_factory=set)
    replays: int = 0


def _answers(msg_id: str, msg_type: str):
    return lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == msg_type


def _subscribed(msg_id: str):
    """ipykernel's welcome to a new subscriber, or the idle status of our request: IOPub reaches us."""
    return lambda m: m["msg_type"] == "iopub_welcome" or (
        m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
        and m["content"].get("execution_state") == "idle")


class _KernelClient(AsyncKernelClient):
    """Ready as soon as the kernel has answered ``kernel_info`` on shell and IOPub is known to be subscribed.

    jupyter_client's ``wait_for_ready`` waits for 0.2 s of silence on IOPub before it returns, and 0.2 s more each
    time ZMQ's subscription was late and the request's busy/idle pair was lost: 0.26-0.46 s from fork to ready,
    measured, most of it idle. Here IOPub is proven by ipykernel's ``iopub_welcome`` (sent when our subscription
    arrives) or by the idle status of our own request, and sockets reconnect every 10 ms instead of 100 ms."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        subscribed = False
        while True:
            msg_id = self.kernel_info()
            reply = await self._first(self.shell_channel, _answers(msg_id, "kernel_info_reply"), 1.0)
            if reply is not None:
                subscribed = subscribed or await self._first(self.iopub_channel, _subscribed(msg_id), 0.2) is not None
                if subscribed:
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    @staticmethod
    async def _first(channel, wanted, patience: float):
        """The first message on ``channel`` that is ``wanted``; None after ``patience`` seconds without one (the
        others are dropped, as upstream's flush drops them: they answer nothing nbclient asked)."""
        from queue import Empty

        until = time.monotonic() + patience
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await channel.get_msg(timeout=left)
            except Empty:
                return None
            if wanted(msg):
                return msg
        return None


class _KernelManager(AsyncKernelManager):
    """Starts the kernel inside the sandbox; talks to it over Unix sockets (the sandbox has no network).

    All kernels of a grading process and their clients share one ZMQ context: a context per kernel, or the one each
    client made for itself, kept its io threads' file descriptors (13 per graded notebook) and logged "Could not
    destroy zmq context" in ``nbgrader autograde``; a long cohort run would have reached the open-file limit.
    """

    sandbox: Sandbox | None = None

    def _context_default(self):
        import zmq.asyncio

        context = zmq.asyncio.Context.instance()
        context.setsockopt(zmq.RECONNECT_IVL, 10)  # the client connects before the kernel binds: retry soon
        return context

    @default("client_factory")
    def _client_factory_default(self):
        return _KernelClient

    def client(self, **kwargs):
        kwargs.setdefault("context", self.context)
        return super().client(**kwargs)

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.command(super().format_kernel_cmd(extra_arguments))

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        box = self.sandbox
        if box.zygote is not None:
            from mlcasebook.grading import zygote

            try:
                process = zygote.kernel(box.zygote, box.spec_path, kernel_cmd, kw["stdout"])
            except zygote.ZygoteError:  # the zygote died or could not fork: this kernel starts cold
                box.zygote = None
                kernel_cmd = box.command(kernel_cmd)
            else:
                provisioner = self.provisioner
                provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
                provisioner.cwd = str(box.workdir)
                self._reconcile_connection_info(provisioner.connection_info)
                return None
        with signals_held():  # the fork happens in here (see signals_held)
            return await super()._async_launch_kernel(kernel_cmd, **kw)


class _Client(NotebookClient):
    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        spent = self._spent.get(cell_index, 0) + size
        self._spent[cell_index] = spent
        if spent > MAX_OUTPUT_BYTES:
            self._truncated.add(cell_index)
            return None
        return super().output(outs, msg, display_id, cell_index)


class Verdict:
    """The verdict process, started once per grading run and restarted only if it dies."""

    def __init__(self, setup_source: str, scratch: Path, memory_mb: int = 4096):
        self.setup_source, self.scratch, self.memory_mb = setup_source, scratch, memory_mb
        self.proc = None
        self.ready = False
        self.start()

    def start(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MPLBACKEND": "Agg",
               "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "1"}
        limit = self.memory_mb * 2**20

        def preexec():  # dies with the grader; bytes from the learner cannot make it exhaust the machine's memory
            _die_with_parent()  # (no import here: see _die_with_parent)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        from mlcasebook.grading import zygote

        warm = zygote.get(zygote.VERDICT)
        if warm is not None:
            # the hidden cases its forks build, kept in the zygote's private folder for the next fork
            env = {**env, "MLCASEBOOK_CASES_CACHE": str(warm.folder / "cases")}
            try:
                self.proc = zygote.verdict(warm, self.scratch / "verdict.log", limit, env)
            except zygote.ZygoteError:
                self.proc = None
            if self.proc is not None:
                verdict_protocol.send(self.proc.stdin, ("setup", self.setup_source))
                return
        log = open(self.scratch / "verdict.log", "ab")
        with signals_held():
            self.proc = subprocess.Popen([sys.executable, "-m", "mlcasebook.grading.verdict"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True,
                                         preexec_fn=preexec)
        log.close()
        verdict_protocol.send(self.proc.stdin, ("setup", self.setup_source))

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        try:
            kind, error = self._receive(timeout)
        except (ConnectionError, TimeoutError) as exc:
            why = "did not answer in time" if isinstance(exc, TimeoutError) else "stopped"
            raise GradingAborted(f"the hidden tests could not be prepared: the verdict process {why} "
                                 f"({self.log_tail() or 'no message'})") from None
        self.ready = True
        if kind != "ready" or error:
            raise GradingAborted(f"the hidden tests could not be prepared ({error or kind})")

    def _receive(self, timeout: float):
        poller = select.poll()  # not select(): a long-lived grader (a test run, a cohort) may hold fds above 1024
        poller.register(self.proc.stdout, select.POLLIN | select.POLLHUP)
        if not poller.poll(max(0.0, timeout) * 1000):
            raise TimeoutError
        try:
            return verdict_protocol.receive(self.proc.stdout)
        except EOFError as exc:
            raise ConnectionError("the verdict process stopped") from exc

    def run_test(self, gid: str, source: str, deadline: float, answer, kernel: int = 0) -> dict:
        """Run one hidden test; ``answer(request, deadline)`` relays a channel request to the kernel
        (``kernel`` numbers the kernel the notebook runs in: a replay's fresh kernel has a new number)."""
        verdict_protocol.send(self.proc.stdin, ("test", gid, source, kernel))
        while True:
            kind, payload = self._receive(deadline - time.monotonic())
            if kind == "done":
                return payload
            reply = answer(payload, deadline)
            verdict_protocol.send(self.proc.stdin, reply)

    def log_tail(self) -> str:
        """The last line the verdict process wrote to its log (our code's error, e.g. an ImportError)."""
        return last_line(self.scratch / "verdict.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout) if self.proc else ():
            try:
                stream.close()
            except OSError:
                pass

    def restart(self, timeout: float) -> None:
        self.stop()
        self.ready = False
        self.start()
        self.wait_ready(timeout)


NO_ANSWER = object()  # the kernel is alive but its agent never answered (learner code changed how cells run)


class _Line:
    """The Unix socket a hidden test's channel requests travel on.

    At a test's first request the kernel is asked to run ``agent.serve_socket()``, which connects here and
    answers every request of that test in the kernel's main thread; an empty frame ends it. One execute request
    per test instead of one per request: a request costs a socket round trip (~0.2 ms) instead of ~12 ms."""

    def __init__(self, client, channel: Path):
        self.client, self.path = client, channel / "socket"
        self.path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(1)
        self.conn = None

    def request(self, data: bytes, deadline: float):
        """The agent's answer; None past ``deadline`` or if the kernel died; NO_ANSWER if the agent never came."""
        if self.conn is None:
            self.conn = self._connect(deadline)
            if self.conn is None or self.conn is NO_ANSWER:
                conn, self.conn = self.conn, None
                return conn
        try:
            self.conn.sendall(_FRAME.pack(len(data)) + data)
            head = self._read(_FRAME.size, deadline)
            return None if head is None else self._read(_FRAME.unpack(head)[0], deadline)
        except OSError:
            return None

    def _read(self, size: int, deadline: float):
        chunks, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.conn.settimeout(remaining)
            try:
                chunk = self.conn.recv(min(left, 1 << 22))
            except TimeoutError:
                return None
            if not chunk:
                return None  # the kernel died (or the learner's code closed the socket)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _connect(self, deadline: float):
        kc = self.client.kc
        msg_id = kc.execute("__import__('mlcasebook.grading.agent', fromlist=['serve_socket']).serve_socket()",
                            silent=True, store_history=False, allow_stdin=False)
        get = run_sync(kc.get_shell_msg)
        poller = select.poll()
        poller.register(self.server, select.POLLIN)
        while time.monotonic() < deadline:
            if poller.poll(100):
                conn, _ = self.server.accept()
                return conn
            try:  # the cell finished without connecting: the learner's code changed how cells run
                while True:
                    msg = get(timeout=0.001)
                    if msg.get("parent_header", {}).get("msg_id") == msg_id:
                        return NO_ANSWER
            except Exception:  # queue.Empty
                pass
            if not run_sync(self.client.km.is_alive)():
                return None
        return None

    def finish(self) -> None:
        """End the test's serve cell (the kernel goes on with the next cell)."""
        if self.conn is not None:
            try:
                self.conn.sendall(_FRAME.pack(0))
            except OSError:
                pass
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self.finish()
        self.server.close()
        self.path.unlink(missing_ok=True)


def _stand_in(cell, why: str, timeout: float):
    stub = copy.deepcopy(cell)
    if why == TIMED_OUT:
        stub.source = f"raise TimeoutError('This cell ran longer than {timeout:g} s; it was stopped.')"
    else:
        stub.source = "raise RuntimeError('This cell crashed the Python kernel; it was skipped so the rest could be graded.')"
    return stub


class _Stop(Exception):
    def __init__(self, index: int, why: str):
        self.index, self.why = index, why


def execute(nb: nbformat.NotebookNode, timeout: float, sandbox: Sandbox, verdict: Verdict) -> tuple[nbformat.NotebookNode, Run]:
    """Execute ``nb``; return the executed copy (test cells carry the verdict's outputs) and what happened."""
    run = Run()
    channel = sandbox.workdir / ".channel"
    failed_starts = 0
    for _attempt in range(len(nb.cells) + 3):
        work = copy.deepcopy(nb)
        for index, why in run.replaced.items():
            if kind_of(work.cells[index]) != TEST:
                work.cells[index] = _stand_in(work.cells[index], why, timeout)
        try:
            _run_once(work, run, timeout, sandbox, verdict, channel)
            return work, run
        except RuntimeError as exc:  # the kernel did not start: inside the jail, fall back once to limits only
            why = sandbox.jail_error() if sandbox.mechanism == NAMESPACES else None
            if why is not None:
                sandbox.weaken(f"the namespace sandbox could not be set up: {why}")
            else:
                failed_starts += 1  # seen once in a few hundred starts on a loaded machine: try again
                if failed_starts > 2:
                    raise GradingAborted(f"the notebook's kernel did not start ({exc}; {sandbox.kernel_log_tail()})") from exc
        except _Stop as stop:
            run.replaced[stop.index] = stop.why
            run.replays += 1
    raise GradingAborted("grading could not finish: every cell had to be replaced")  # pragma: no cover


def _run_once(work, run: Run, timeout: float, sandbox: Sandbox, verdict: Verdict, channel: Path) -> None:
    channel.mkdir(exist_ok=True)
    km = _KernelManager(kernel_name="python3", transport="ipc", ip=str(sandbox.workdir / "k"),
                        connection_file=str(sandbox.workdir / "kernel.json"))
    km.sandbox = sandbox
    # nbclient's `timeout` trait takes whole seconds only (1.5 raised a TraitError); `timeout_func` takes any
    client = _Client(work, km=km, timeout=None, timeout_func=lambda _cell: timeout, interrupt_on_timeout=False,
                     allow_errors=True,
                     resources={"metadata": {"path": str(sandbox.workdir)}}, shutdown_kernel="immediate",
                     extra_arguments=["--IPKernelApp.log_level=ERROR"], startup_timeout=60)
    client._spent, client._truncated = {}, run.truncated
    launch = sandbox.launch_kwargs()
    try:
        with client.setup_kernel(**launch):
            line = _Line(client, channel)
            try:
                _cells(client, km, work, run, timeout, verdict, line)
            finally:
                line.close()
    finally:
        _kill(km)
        for stream in (launch.get("stdout"), launch.get("stderr")):
            if hasattr(stream, "close"):
                stream.close()


#: the largest peak resident memory of a warm kernel this process has killed, in kB (a cold kernel is a child of
#: this process and counts in getrusage(RUSAGE_CHILDREN); a warm one is the child of its zygote's holder)
warm_kernel_peak_kb = 0


def _peak_of_child(holder: int) -> int:
    try:
        with open(f"/proc/{holder}/task/{holder}/children") as fh:
            pids = fh.read().split()
        with open(f"/proc/{pids[0]}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, IndexError, StopIteration, ValueError):
        return 0


def _kill(km) -> None:
    """Kill the sandbox and everything in it (its PID namespace dies with it; else its process group)."""
    import signal

    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is None or process.poll() is not None:
        return
    if not isinstance(process, subprocess.Popen):  # forked by a zygote: its holder takes the namespace with it
        global warm_kernel_peak_kb
        warm_kernel_peak_kb = max(warm_kernel_peak_kb, _peak_of_child(process.pid))
        process.kill()
        process.wait()
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()


def _cells(client, km, work, run: Run, timeout: float, verdict: Verdict, line: _Line) -> None:
    _agent(client, line.path.parent, timeout)
    for index, cell in enumerate(work.cells):
        kind = kind_of(cell)
        if kind in (SKIP, TEXT):
            continue
        if kind == TEST:
            if index not in run.replaced:
                _test(client, cell, index, run, timeout, verdict, line)
            continue
        try:
            client.execute_cell(cell, index)
        except CellTimeoutError:
            raise _Stop(index, TIMED_OUT) from None
        except DeadKernelError:
            raise _Stop(index, CRASHED) from None
        if not run_sync(km.is_alive)():
            raise _Stop(index, CRASHED)


def _agent(client, channel: Path, timeout: float) -> None:
    code = f"import mlcasebook.grading.agent as _mlcasebook_agent; _mlcasebook_agent.install({str(channel)!r}); del _mlcasebook_agent"
    reply = _call(client, code, time.monotonic() + max(60.0, timeout))
    if reply is None or reply.get("status") != "ok":
        raise GradingAborted("the grading agent could not start in the sandboxed kernel")


def _call(client, code: str, deadline: float):
    """Run ``code`` silently in the kernel; its execute reply, or None past ``deadline`` or if the kernel died."""
    kc = client.kc
    msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    get = run_sync(kc.get_shell_msg)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            msg = get(timeout=min(0.5, remaining))
        except Exception:  # queue.Empty: still running
            if not run_sync(client.km.is_alive)():
                return None
            continue
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg.get("content", {})


def _test(client, cell, index: int, run: Run, timeout: float, verdict: Verdict, line: _Line) -> None:
    verdict.wait_ready(max(60.0, timeout))  # it warmed up while the learner's cells ran
    deadline = time.monotonic() + timeout
    died = []

    def answer(request: bytes, deadline: float):
        reply = line.request(request, deadline)
        if reply is NO_ANSWER:
            return ("closed", "no answer")  # the learner's code broke the agent: the part cannot pass
        if reply is None:
            died.append(CRASHED if not run_sync(client.km.is_alive)() else TIMED_OUT)
            return ("closed", died[-1])
        return ("answer", reply)

    try:
        try:
            result = verdict.run_test(cell.metadata.get("nbgrader", {}).get("grade_id", ""), cell.source, deadline,
                                      answer, kernel=run.replays)
        finally:
            line.finish()
    except TimeoutError:
        verdict.restart(max(60.0, timeout))
        raise _Stop(index, TIMED_OUT) from None
    except (ConnectionError, OSError):
        verdict.restart(max(60.0, timeout))
        result = {"outputs": [{"output_type": "error", "ename": "VerdictCrashed", "traceback": [],
                               "evalue": "The hidden test stopped while reading your answer."}],
                  "message": "The hidden test stopped while reading your answer; check what your code returns.",
                  "misconception": "unreadable", "abandoned": None}
    if result.get("abandoned"):
        if died:  # the kernel ran out of time or died while answering: replay without this test
            raise _Stop(index, died[-1])
        # the kernel is alive but its agent gave no answer (learner code changed how cells run, e.g. an input
        # transformer): the part fails as unreadable; calling it a time-out and replaying would not help
        message = ("The hidden test got no answer from your notebook's kernel: your code changed how the kernel runs "
                   "cells; undo that and run the notebook again.")
        result = {"outputs": [{"output_type": "error", "ename": "NoAnswer", "evalue": message, "traceback": []}],
                  "message": message, "misconception": "unreadable", "abandoned": None}
    run.verdicts[index] = result
    cell.outputs = [nbformat.from_dict(o) for o in result["outputs"]]
