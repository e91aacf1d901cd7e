"""The sandbox a learner's kernel runs in while it is graded, and the weaker ones used where a machine forbids it.

Mechanisms, strongest first (the first that works on this machine is used; a weaker one is announced once):

``namespaces``
    ``unshare`` (util-linux) gives the kernel its own mount, network, PID, IPC and UTS namespaces — as root
    directly, otherwise through a user namespace. :mod:`mlcasebook.grading.jail` then makes the whole file
    system read-only, hides the course (``solutions/``, ``tests/``, ``.git``, the gradebook, submissions,
    the progress history, the home folder) behind empty layers, binds back read-only only what a kernel needs
    (the package with a public stub of ``mlcasebook.checks``, ``data/``, the interpreter), binds the grading
    folder writable, sets limits and drops every capability. No network interface is up; the kernel talks to
    the grader over Unix sockets in the grading folder. Killing the sandbox kills every process in it.
``limits``
    no namespaces (a container that forbids them): the kernel runs in its own session with the same
    resource limits and a scrubbed environment, and is killed with its whole process group; the course
    files are NOT hidden from it.

The verdict process (hidden tests) never runs inside the sandbox: see :mod:`mlcasebook.grading.verdict`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mlcasebook import paths

DEFAULT_MEMORY_MB = 2048
NAMESPACES, LIMITS = "namespaces", "limits"

#: what stays visible (read-only) under the course root; everything else there is hidden
_COURSE_VISIBLE = ("src", "data", "notebooks", "nbgrader_config.py", "pyproject.toml")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_seconds: int = 3600
    file_mb: int = 256
    open_files: int = 1024
    extra_processes: int = 512  # RLIMIT_NPROC counts every thread of the user: this many above what runs now

    def rlimits(self) -> dict:
        return {"memory_bytes": self.memory_mb * 2**20, "cpu_seconds": self.cpu_seconds,
                "file_bytes": self.file_mb * 2**20, "open_files": self.open_files,
                "processes": _user_threads() + self.extra_processes}

    def preexec(self):
        """For the ``limits`` mechanism: the same limits, set in the child before it starts the kernel."""
        from mlcasebook.grading import jail  # imported here, in the grader: nothing may be imported after fork

        spec = {"limits": self.rlimits()}
        limit = jail.limit

        def apply():
            _die_with_parent()
            limit(spec)

        return apply


def _user_threads() -> int:
    """Threads of this user now (RLIMIT_NPROC counts them all, on the whole machine)."""
    uid, total = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 0").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def kernel_env(workdir: Path) -> dict:
    """The kernel's whole environment: nothing of the grader's (tokens, CI variables, course paths) leaks in."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(workdir / ".matplotlib"), "IPYTHONDIR": str(workdir / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        # one thread per kernel: OpenMP models thrash when parallel graders share 2 cores
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # one malloc arena: glibc reserves 64 MB of address space per thread otherwise (the kernel has ~10), which
        # the --memory limit (RLIMIT_AS) counts: --memory 512 could not even start the kernel
        "MALLOC_ARENA_MAX": "1",
        "MLCASEBOOK_DATA": str(paths.data_dir()), "MLCASEBOOK_ROOT": str(paths.course_root()),
        "MLCASEBOOK_GRADING": "1",  # the tutor shows no model answer and %check does nothing in a graded run
    }
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # set on some CPUs where old OpenBLAS builds fail
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def checks_stub(dest: Path) -> Path:
    """Write the public face of ``mlcasebook.checks`` that the sandboxed kernel imports instead of the real one.

    It holds the plain constants the notebooks' visible cells use (``checks.churn.VALUE``, ...), read from
    the real modules, and a stand-in for every check: in a graded copy public check cells are not run, and a
    check a learner calls from an answer cell returns a result that says so. Reference answers and answer
    tables are not in it.
    """
    from mlcasebook.grading import public_checks as public

    dest.mkdir(parents=True, exist_ok=True)
    for name, text in public.stub_modules().items():
        (dest / f"{name}.py").write_text(text)
    return dest


@functools.cache
def _unshare_works(as_root: bool) -> str | None:
    """None if ``unshare`` can make the namespaces here, else why not (one line)."""
    exe = shutil.which("unshare")
    if exe is None or shutil.which("setpriv") is None:
        return "util-linux's unshare/setpriv are not installed"
    cmd = [exe, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]
    if not as_root:
        cmd.insert(1, "--map-root-user")
    try:
        with signals_held():  # a SIGTERM during this fork would print a traceback (see signals_held)
            proc = subprocess.run([*cmd, "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed ({exc})"
    if proc.returncode != 0:
        return f"this machine forbids namespaces ({' '.join(proc.stderr.split())[:100]})"
    return None


@dataclass
class Sandbox:
    """How one kernel is started and stopped; ``mechanism`` says which protection it has."""

    workdir: Path
    limits: Limits = field(default_factory=Limits)
    mechanism: str = NAMESPACES
    why_weaker: str | None = None
    hide: tuple[str, ...] = ()  # more folders to hide besides the course root (nbgrader's course, its gradebook)
    zygote: object = None  # a kernel zygote to fork the kernel from (mlcasebook.grading.zygote), or None: cold

    @classmethod
    def choose(cls, workdir: Path, limits: Limits, wanted: str | None = None, hide=()) -> Sandbox:
        wanted = wanted or os.environ.get("MLCASEBOOK_SANDBOX") or NAMESPACES
        hide = tuple(str(Path(h).resolve()) for h in hide if Path(h).resolve() != Path("/"))
        if wanted == LIMITS:
            return cls(workdir, limits, LIMITS, "asked for with MLCASEBOOK_SANDBOX=limits", hide)
        why = _unshare_works(os.geteuid() == 0)
        if why:
            return cls(workdir, limits, LIMITS, why, hide)
        from mlcasebook.grading import zygote

        kernels = zygote.get(zygote.KERNEL)
        if kernels is not None and not zygote.fits(kernels, limits.memory_mb * 2**20):
            kernels = None
        return cls(workdir, limits, NAMESPACES, None, hide, kernels)

    def weaken(self, why: str) -> None:
        """The namespaces could not be set up on this machine after all: fall back to limits only."""
        self.mechanism, self.why_weaker, self.zygote = LIMITS, why, None

    @property
    def spec_path(self) -> Path:
        return self.workdir.parent / (self.workdir.name + "-jail.json")

    def jail_error(self) -> str | None:
        """The jail's one-line reason, if the last kernel start failed inside it."""
        log = self.workdir.parent / "kernel.log"
        if not log.is_file():
            return None
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("mlcasebook sandbox:")]
        return lines[-1].removeprefix("mlcasebook sandbox:").strip() if lines else None

    def kernel_log_tail(self) -> str:
        return last_line(self.workdir.parent / "kernel.log") or "the kernel wrote nothing"

    def notice(self) -> str | None:
        if self.mechanism == NAMESPACES:
            return None
        return (f"sandbox: resource limits only, course files not hidden from the learner's code ({self.why_weaker}); "
                "grades are still computed outside the learner's process.")

    # ------------------------------------------------------------ kernel command

    def prepare(self) -> None:
        os.chmod(self.workdir, 0o755)
        if self.mechanism == NAMESPACES:
            stub = checks_stub(self.workdir.parent / (self.workdir.name + "-checks"))
            from mlcasebook.grading import zygote

            root = paths.course_root()
            hidden = [str(root), *self.hide, *zygote.folders()]
            read_only = [(str(root / name), str(root / name)) for name in _COURSE_VISIBLE if (root / name).exists()]
            read_only.append((str(root / "src" / "mlcasebook" / "checks"), str(stub)))
            # the package the kernel imports may live outside the course root (MLCASEBOOK_ROOT elsewhere):
            # stub its checks too, and hide the clone it comes from (its solutions/, tests/, .git)
            package = Path(__file__).resolve().parents[1]
            read_only.append((str(package / "checks"), str(stub)))
            clone = package.parents[1]
            if (clone / "nbgrader_config.py").is_file() and clone != root:
                hidden.append(str(clone))
                read_only.append((str(package), str(package)))
            data = paths.data_dir()
            if not data.is_relative_to(root / "data"):
                read_only.append((str(data), str(data)))
            for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
                read_only.append((prefix, prefix))
            home = Path.home()
            if home != Path("/") and not Path(sys.base_prefix).resolve() == home:
                hidden.append(str(home))
            read_only = [(target, source) for target, source in read_only if os.path.exists(source)]
            spec = {
                "workdir": str(self.workdir),
                "hidden": sorted(set(hidden), key=len),
                "read_only": sorted(set(read_only), key=lambda pair: len(pair[0])),
                "limits": self.limits.rlimits(),
                "env": kernel_env(self.workdir),
            }
            self.spec_path.write_text(json.dumps(spec))

    def command(self, kernel_argv: list[str]) -> list[str]:
        """How to start the kernel cold (a warm kernel is forked from ``zygote`` with the bare ``kernel_argv``)."""
        if self.mechanism != NAMESPACES or self.zygote is not None:
            return kernel_argv
        spec = self.spec_path
        cmd = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]
        if os.geteuid() != 0:
            cmd.insert(1, "--map-root-user")
        return [*cmd, sys.executable, "-I", "-m", "mlcasebook.grading.jail", str(spec), "--", *kernel_argv]

    def launch_kwargs(self) -> dict:
        """Extra arguments for the kernel's Popen: its environment, output to a log, death with the grader."""
        log = open(self.workdir.parent / "kernel.log", "ab")  # noqa: SIM115 - the child keeps it
        common = {"stdout": log, "stderr": log}
        if self.mechanism == NAMESPACES:
            return {**common, "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "preexec_fn": _die_with_parent}
        return {**common, "env": kernel_env(self.workdir), "preexec_fn": self.limits.preexec()}


def last_line(log: Path) -> str:
    """The last line a process wrote to its log, cut to 200 characters ("" if there is none)."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the grader dies, so no sandbox outlives a killed grader.

    Runs between fork and exec, so it must not import: a module lock held by another thread of the grader at
    fork time (the background nbgrader import) stays held in the child for ever, and the grader waits on the
    child's exec. Seen as a 60 s hang before the kernel started; ``_PRCTL`` is resolved at import instead.
    It also unblocks the signals :func:`signals_held` blocked around the fork."""
    _PRCTL(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


_PRCTL = ctypes.CDLL(None).prctl
_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C and SIGTERM while the grader forks a child (they are handled right after).

    A Python signal handler that runs inside a fork — in an at-fork callback of the parent, or in the child before
    exec — makes Python print "Exception ignored in ..." with a traceback; blocked, the signal waits for the
    fork to finish. The child unblocks it before exec (:func:`_die_with_parent`). Blocking covers this thread
    only: the signal can still reach another thread of the grader (pyzmq's, a background import), and Python then
    runs the handler in this one, inside the fork's at-fork callbacks (seen once in the hostile catalogue: "release
    unlocked lock" from concurrent.futures' at-fork lock). So the handler is also swapped for one that only notes
    the signal, and the signal is raised again once the fork is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    handlers = {sig: signal.signal(sig, lambda signum, frame: noted.append(signum))
                for sig in _HELD if signal.getsignal(sig) is not None}  # None: a handler set outside Python, kept
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(noted):
            signal.raise_signal(sig)


MAX_TEMP_DIR_CHARS = 48  # the kernel's and the channel's Unix sockets live ~50 characters below it; 107 at most


def scratch_base() -> str:
    """The temporary folder, unless its path is so long (a deep TMPDIR, e.g. macOS's /var/folders/...) that
    the Unix sockets inside would pass the 107-byte limit: then /tmp."""
    base = tempfile.gettempdir()
    if len(base) > MAX_TEMP_DIR_CHARS and os.access("/tmp", os.W_OK):
        base = "/tmp"
    return base


def scratch(prefix: str = "mlcasebook-grade-") -> Path:
    """A private folder for one grading run (removed by the caller), under :func:`scratch_base`."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_base()))
