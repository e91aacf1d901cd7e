"""Warm starts: pre-imported processes that fork a grading's kernel and its verdict process instead of starting them.

A cold grading pays twice for the scientific stack: the sandboxed kernel imports numpy, pandas, scikit-learn,
matplotlib, statsmodels (the setup cell) and ipykernel, and so does the verdict process — about 5 CPU-seconds a
submission on this course, more than most notebooks' own work. A long-lived grader (a cohort worker, a test run)
starts two *zygotes* once instead, and each grading forks from them:

``kernels``
    imports ipykernel and the third-party stack only — never ``mlcasebook.checks`` or anything of the course's
    (a forked kernel holds everything its zygote held), in a scrubbed environment (the kernel can read its
    first environment back from ``/proc``). For each kernel it forks a *holder* that enters fresh mount,
    network, PID, IPC and UTS namespaces and forks the kernel as the namespace's first process; the kernel then
    builds the same jail as :mod:`mlcasebook.grading.jail` (mounts, limits, no capabilities, no new privileges)
    and runs ipykernel in the forked interpreter. The holder lives as long as the kernel and stands for it:
    killing the holder kills the kernel (``PR_SET_PDEATHSIG``) and with it every process of its namespace.
``verdicts``
    imports the grading engine, every ``mlcasebook.checks`` module and the stack; each verdict process is a
    fork that reads its requests on the pipes the grader passes in.

Each fork serves exactly one grading and starts from the zygote's state, never from an earlier grading's: warm
gradings score what cold ones score (the test suite grades through zygotes; ``make bench`` compares both).
Requests travel on a Unix socket in a private folder, with the file descriptors attached (``SCM_RIGHTS``); the
answer is a pidfd, so the grader can watch and kill a process it did not fork. A kernel is forked only where
the namespace sandbox works as root (the holder's user-namespace mapping for other users is written but not yet
proven by a test, so they start kernels cold) and the memory limit leaves room for the preloads (:func:`fits`);
everywhere else it starts cold, as in ``mlcasebook check``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KERNEL, VERDICT = "kernels", "verdicts"
READY = "ready"  # the file a zygote writes in its folder once it serves: its address space in bytes

#: what each zygote imports before it forks anything (the kernel's list must stay free of the course's modules)
PRELOAD = {
    KERNEL: ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "IPython.display",
             "numpy", "pandas", "scipy.stats", "scipy.optimize", "scipy.special", "matplotlib.pyplot",
             "sklearn.linear_model", "sklearn.metrics", "sklearn.model_selection", "sklearn.pipeline",
             "sklearn.preprocessing", "sklearn.compose", "sklearn.impute", "sklearn.ensemble", "sklearn.tree",
             "sklearn.calibration", "sklearn.isotonic", "imblearn.pipeline", "imblearn.over_sampling", "statsmodels.api",
             "statsmodels.formula.api", "statsmodels.stats.power", "statsmodels.stats.proportion",
             "statsmodels.stats.multitest", "joblib"),
    VERDICT: ("mlcasebook.grading.verdict", "mlcasebook.grading.channel", "mlcasebook.checks", "mlcasebook.datasets",
              "mlcasebook.cases", "mlcasebook.tutor", "IPython.display", "numpy", "pandas",
              "scipy.stats", "matplotlib.pyplot", "sklearn.linear_model", "sklearn.metrics", "statsmodels.api"),
}
FORBIDDEN_IN_KERNEL = ("mlcasebook.checks", "mlcasebook.grading.verdict", "mlcasebook.grading.api")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 38, 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


class ZygoteError(RuntimeError):
    pass


# ---------------------------------------------------------------- the grader's side


class Forked:
    """A process forked by a zygote, watched and signalled through its pidfd (the Popen methods jupyter_client and
    the verdict use). Its exit status belongs to the zygote that reaps it: ``returncode`` is -9 once it is gone."""

    def __init__(self, pidfd: int, pid: int, stdin=None, stdout=None):
        self.pidfd, self.pid, self.stdin, self.stdout = pidfd, pid, stdin, stdout
        self.returncode = None

    def poll(self):
        if self.returncode is None and self._exited(0):
            self.returncode = -signal.SIGKILL
            self._close()
        return self.returncode

    def _exited(self, seconds: float) -> bool:
        poller = select.poll()  # not select(): a long-lived grader may hold descriptors above 1024
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(seconds * 1000))

    def wait(self, timeout: float | None = None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("forked process", timeout)
            self._exited(0.5 if left is None else min(0.5, left))
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                signal.pidfd_send_signal(self.pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def __del__(self):
        if getattr(self, "pidfd", -1) >= 0:
            os.close(self.pidfd)


class Zygote:
    """One running zygote of ``kind``, started by :func:`get` and stopped at exit, or one another process of this
    machine started and shares (:func:`attach`: the embedded cluster's workers fork from their parent's two)."""

    def __init__(self, kind: str, shared: dict | None = None):
        from mlcasebook.grading.sandbox import scratch_base, signals_held

        self.kind, self.lock = kind, threading.Lock()
        self.forks, self.address_space, self.failed = 0, 0, None
        if shared is not None:
            self.proc, self.pid, self.folder, self.address = None, int(shared["pid"]), Path(shared["folder"]), \
                shared["address"]
            self.pidfd = os.pidfd_open(self.pid)  # readable once it exits (even before its parent reaps it)
            return
        self.folder = Path(tempfile.mkdtemp(prefix=f"mlcasebook-{kind}-", dir=_base or scratch_base()))
        os.chmod(self.folder, 0o700)
        env = _env(kind, self.folder)
        self.address = str(self.folder / "zygote.sock")
        log = open(self.folder / "zygote.log", "ab")  # noqa: SIM115 - the zygote keeps it
        isolated = ["-I"] if kind == KERNEL else []  # the verdict runs as `python -m` did, with the grader's path
        with signals_held():
            self.proc = subprocess.Popen([sys.executable, *isolated, "-m", "mlcasebook.grading.zygote", kind, self.address],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
                                         start_new_session=True, preexec_fn=_die_with_grader)
        log.close()
        self.pid, self.pidfd = self.proc.pid, -1

    def share(self) -> dict:
        """What another process needs to :func:`attach` to this zygote."""
        return {"pid": self.pid, "folder": str(self.folder), "address": self.address}

    def wait_ready(self, timeout: float = 120) -> bool:
        """Wait until the zygote has imported everything (it starts in the background: a cohort worker imports
        its own modules meanwhile); False, with ``failed`` saying why, if it never got there."""
        if self.address_space or self.failed:
            return not self.failed
        if self.proc is None:
            return self._wait_shared(timeout)
        poller = select.poll()
        poller.register(self.proc.stdout, select.POLLIN | select.POLLHUP)
        ready = poller.poll(timeout * 1000)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        self.proc.stdout.close()
        if not line.startswith("ready "):
            self.failed = f"the {self.kind} zygote did not start ({line or self.log_tail() or f'no answer in {timeout:g} s'})"
            self.stop()
            return False
        self.address_space = int(line.split()[1])  # bytes: every fork starts with this much (its RLIMIT_AS counts it)
        return True

    def _wait_shared(self, timeout: float) -> bool:
        """A shared zygote is ready when its ``ready`` file appears (it holds the address space); it failed if
        it exited first."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            try:
                self.address_space = int((self.folder / READY).read_text())
                return True
            except (OSError, ValueError):
                pass
            if poller.poll(20):
                break
        self.failed = f"the shared {self.kind} zygote did not start ({self.log_tail() or 'no message'})"
        return False

    def log_tail(self) -> str:
        from mlcasebook.grading.sandbox import last_line

        return last_line(self.folder / "zygote.log")

    def fork(self, request: dict, fds: list[int], **streams) -> Forked:
        """Ask for one process; ``fds`` travel with the request (they are the child's stdin, stdout, stderr)."""
        if not self.wait_ready():
            raise ZygoteError(self.failed)
        with self.lock, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            try:
                conn.connect(self.address)
                socket.send_fds(conn, [json.dumps(request).encode()], fds)
                data, got, _flags, _addr = socket.recv_fds(conn, 4096, 1)
            except OSError as exc:
                raise ZygoteError(f"the {self.kind} zygote did not answer ({exc})") from None
            if not got:
                raise ZygoteError(f"the {self.kind} zygote could not fork ({data.decode(errors='replace')[:200]})")
            self.forks += 1
            return Forked(got[0], int(data), **streams)

    def alive(self) -> bool:
        if self.proc is None:  # poll, not select: a long-lived worker may hold descriptors above 1024
            poller = select.poll()
            poller.register(self.pidfd, select.POLLIN)
            return self.failed is None and not poller.poll(0)
        return self.failed is None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:  # shared: its owner stops it
            if self.pidfd >= 0:
                os.close(self.pidfd)
            self.pidfd, self.failed = -1, "detached"
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


_zygotes: dict[str, Zygote | None] = {}
_enabled = False
_base: str | None = None  # where the zygotes' folders go: the temporary folder when warm starts were enabled
_failures: dict[str, str] = {}
_at_exit: list = []


def enable() -> None:
    """Let gradings in this process fork from zygotes, started at first use. Cohort workers and the test suite
    call it; ``mlcasebook check`` does not (one grading: a zygote would cost what it saves).
    ``MLCASEBOOK_WARM=0`` forbids warm starts, ``MLCASEBOOK_WARM=1`` allows them in any process."""
    global _enabled, _base
    from mlcasebook.grading.sandbox import scratch_base

    _enabled, _base = True, scratch_base()


def folders() -> list[str]:
    """The running zygotes' folders: every sandbox hides them (their sockets fork processes on request)."""
    return [str(z.folder) for z in _zygotes.values() if z is not None]


def enabled() -> bool:
    flag = os.environ.get("MLCASEBOOK_WARM")
    if flag is not None:
        return flag == "1"
    return _enabled


def get(kind: str, wait: bool = True) -> Zygote | None:
    """The running zygote of ``kind``, started if need be (and, with ``wait``, ready); None where warm starts are
    off or impossible here (then the grading starts its process cold; why is in :func:`why_not`)."""
    if not enabled() or not hasattr(os, "pidfd_open") or (kind == KERNEL and os.geteuid() != 0):
        return None
    zygote = _zygotes.get(kind)
    if zygote is None or not zygote.alive():
        if zygote is not None and zygote.proc is None:  # a shared one that stopped: this process starts its own
            zygote.stop()
        if kind in _failures:
            return None
        try:
            _zygotes[kind] = zygote = Zygote(kind)
        except OSError as exc:
            _failures[kind] = str(exc)
            return None
        _stop_at_exit()
    if wait and not zygote.wait_ready():
        if zygote.proc is None:  # a shared one that never got ready: this process starts its own
            zygote.stop()
            _zygotes.pop(kind)
            return get(kind, wait)
        _failures[kind] = zygote.failed
        return None
    return zygote


def _stop_at_exit() -> None:
    if not _at_exit:
        _at_exit.append(atexit.register(stop_all))


def shared() -> dict:
    """The running zygotes, for :func:`attach` in another process of this machine (started, maybe not yet ready)."""
    return {kind: z.share() for kind, z in _zygotes.items() if z is not None and z.alive()}


def attach(zygotes: dict) -> None:
    """Fork from zygotes another process started (:func:`shared`) instead of starting this process's own; where
    one of them dies or never gets ready, :func:`get` starts one here."""
    for kind, where in zygotes.items():
        if _zygotes.get(kind) is None:
            try:
                _zygotes[kind] = Zygote(kind, shared=where)
            except OSError:  # gone already
                pass
    _stop_at_exit()


def resident_kb() -> int:
    """The zygotes' resident memory now, in kB."""
    total = 0
    for z in _zygotes.values():
        try:
            with open(f"/proc/{z.pid}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration, AttributeError):
            pass
    return total


def why_not(kind: str) -> str | None:
    return _failures.get(kind)


def stop_all() -> None:
    for zygote in _zygotes.values():
        if zygote is not None:
            zygote.stop()
    _zygotes.clear()


def _env(kind: str, folder: Path) -> dict:
    from mlcasebook.grading.sandbox import kernel_env

    if kind == KERNEL:  # nothing of the grader's: a forked kernel can read this environment back from /proc
        (folder / "home").mkdir()
        return kernel_env(folder / "home")
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "1"}


def _die_with_grader() -> None:
    from mlcasebook.grading.sandbox import _die_with_parent

    _die_with_parent()


def fits(zygote: Zygote, memory_bytes: int) -> bool:
    """Whether a fork of ``zygote`` may run under a memory limit of ``memory_bytes``: the preloaded libraries count
    against a fork's address-space limit, so a small limit (``--memory 512``) gets a cold kernel instead, which
    holds only what its notebook imports."""
    return memory_bytes >= 2 * zygote.address_space


def kernel(zygote: Zygote, spec_path: Path, kernel_argv: list[str], log) -> Forked:
    """Fork a sandboxed kernel: ``spec_path`` is the jail's spec, ``log`` the file its output goes to."""
    with open(os.devnull, "rb") as null:
        return zygote.fork({"spec": str(spec_path), "argv": list(kernel_argv)}, [null.fileno(), log.fileno(), log.fileno()])


def verdict(zygote: Zygote, log_path: Path, memory_bytes: int, env: dict) -> Forked:
    """Fork a verdict process that reads requests on its stdin pipe and answers on its stdout pipe."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    try:
        with open(log_path, "ab") as log:
            process = zygote.fork({"memory_bytes": memory_bytes, "env": env}, [to_child_r, from_child_w, log.fileno()],
                                  stdin=os.fdopen(to_child_w, "wb"), stdout=os.fdopen(from_child_r, "rb"))
    except BaseException:
        os.close(to_child_w)
        os.close(from_child_r)
        raise
    finally:
        os.close(to_child_r)
        os.close(from_child_w)
    return process


# ---------------------------------------------------------------- the zygote's side


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _drop_capabilities() -> None:
    """What ``setpriv --no-new-privs --inh-caps=-all --bounding-set=-all`` and the exec after it do for root:
    no capability in any set, none to regain."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    _check(_libc.capset(ctypes.byref(Header(_LINUX_CAPABILITY_VERSION_3, 0)), (Data * 2)()), "capset")


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _threads() -> int:
    return _status("Threads")


def _address_space() -> int:
    return _status("VmSize") * 1024


def _take_fds(fds: list[int]) -> None:
    """Make the request's descriptors this process's stdin, stdout and stderr."""
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)


def _run_kernel(request: dict) -> int:
    """In the namespace's first process: the jail, then ipykernel in this interpreter (never returns normally)."""
    from mlcasebook.grading import jail

    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    with open(request["spec"]) as fh:
        spec = json.load(fh)
    try:
        jail._mount(None, "/", None, jail.MS_REC | jail.MS_PRIVATE)
        jail._mount("proc", "/proc", "proc", jail.MS_NOSUID | jail.MS_NODEV | jail.MS_NOEXEC)
        jail.build(spec)
        jail.limit(spec)
        os.chdir(spec["workdir"])
        _drop_capabilities()
    except (jail.JailError, OSError) as exc:
        print(f"mlcasebook sandbox: {exc}", file=sys.stderr, flush=True)
        return jail.EXIT_JAIL
    os.environ.clear()
    os.environ.update(spec["env"])
    sys.path.insert(0, spec["workdir"])  # as `python -m ipykernel_launcher` started there would have it
    argv = request["argv"]
    at = argv.index("ipykernel_launcher") if "ipykernel_launcher" in argv else 2
    sys.argv = ["ipykernel_launcher", *argv[at + 1:]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    return 0


def _hold_kernel(request: dict) -> int:
    """The holder: new namespaces, the kernel forked as their first process, then wait for it and stand for it."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if uid != 0:  # as `unshare --map-root-user`: root of a user namespace of its own, which may mount
        flags |= CLONE_NEWUSER
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if _libc.unshare(flags) != 0:
        print(f"mlcasebook sandbox: unshare: {os.strerror(ctypes.get_errno())}", file=sys.stderr, flush=True)
        return 97
    if uid != 0:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            code = _run_kernel(request)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException as exc:  # noqa: BLE001 - the kernel's last words, then out
            print(f"mlcasebook sandbox: the kernel stopped ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for signum in (signal.SIGINT, signal.SIGTERM):  # an interrupt for the holder is for its kernel
        signal.signal(signum, lambda s, _f: os.kill(child, s))
    while True:
        try:
            _pid, status = os.waitpid(child, 0)
            return os.waitstatus_to_exitcode(status) & 0xFF
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0


def _run_verdict(request: dict) -> int:
    import resource

    from mlcasebook.grading import verdict

    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    limit = int(request["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.clear()
    os.environ.update(request["env"])
    return verdict.main()
    return verdict.main()


def _child(kind: str, request: dict, fds: list[int]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _take_fds(fds)
        code = (_hold_kernel if kind == KERNEL else _run_verdict)(request)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException as exc:  # noqa: BLE001
        print(f"mlcasebook zygote: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(kind: str, address: str) -> int:
    import gc
    import importlib

    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in PRELOAD[kind]:
        importlib.import_module(name)
    if kind == KERNEL:
        leaked = [name for name in FORBIDDEN_IN_KERNEL if name in sys.modules]
        if leaked:
            print(f"the kernel zygote imported {', '.join(leaked)}", file=sys.stderr, flush=True)
            return 1
    if _threads() != 1:  # forking a threaded process copies locks held by the other threads
        print(f"the {kind} zygote runs {_threads()} threads after its imports; it forks only single-threaded",
              file=sys.stderr, flush=True)
        return 1
    gc.collect()
    # what was imported stays for good: without this, the first full collection in each fork walked the whole
    # inherited heap (0.14 s of a kernel's 0.21 s start, measured) and copied every page it touched
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps no child: they vanish when they exit
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(8)
    space = _address_space()
    ready = Path(address).parent / READY  # for the processes that share this zygote (attach)
    ready.with_suffix(".part").write_text(str(space))
    ready.with_suffix(".part").replace(ready)
    sys.stdout.write(f"ready {space}\n")
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    while True:
        conn, _ = server.accept()
        with conn:
            try:
                data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
                request = json.loads(data)
            except (OSError, ValueError) as exc:
                conn.sendall(f"bad request ({exc})".encode())
                continue
            try:
                pid = os.fork()
            except OSError as exc:
                conn.sendall(f"fork failed ({exc})".encode())
                for fd in fds:
                    os.close(fd)
                continue
            if pid == 0:
                server.close()
                conn.close()
                _child(kind, request, fds)
            for fd in fds:
                os.close(fd)
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:  # already gone (and reaped): a pidfd of a finished process
                conn.sendall(b"the child exited at once")
                continue
            try:
                socket.send_fds(conn, [str(pid).encode()], [pidfd])
            except OSError:
                os.kill(pid, signal.SIGKILL)
            finally:
                os.close(pidfd)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
