"""Inside the grading sandbox, before the learner's kernel starts: lock the file system, set limits, drop privileges.

Run as ``python -I -m mlcasebook.grading.jail SPEC.json -- KERNEL ARGV...`` under
``unshare --mount --net --pid --fork --kill-child --mount-proc`` (with ``--map-root-user`` when not root),
so this process is root of fresh mount, network and PID namespaces. It then

1. makes every mount private and read-only (nothing the kernel does can reach the host's files);
2. puts empty ``tmpfs`` over ``/tmp``, ``/dev/shm`` and every hidden path (course root, home folder), and binds
   back, read-only, only what a kernel needs: the package source with the public stub of ``mlcasebook.checks``,
   ``data/``, ``notebooks/``, the interpreter's prefix;
3. binds the grading folder back, writable: the only place the kernel may write;
4. sets resource limits (address space, CPU seconds, file size, open files, processes, no core dumps);
5. executes the kernel through ``setpriv`` with no capabilities and ``no_new_privs``.

Anything that fails here exits 97 with one line on stderr; the caller then falls back to a weaker sandbox.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
             4096: MS_RELATIME}
EXIT_JAIL = 97

_libc = ctypes.CDLL(None, use_errno=True)


class JailError(RuntimeError):
    pass


def _mount(source, target, fstype, flags, data=None):
    src = source.encode() if source else None
    fst = fstype.encode() if fstype else None
    dat = data.encode() if data else None
    if _libc.mount(src, target.encode(), fst, ctypes.c_ulong(flags), dat) != 0:
        err = ctypes.get_errno()
        raise JailError(f"mount {source or fstype} on {target}: {os.strerror(err)}")


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4].encode().decode("unicode_escape") for line in fh]
    return sorted(set(points), key=len)


def _locked_flags(path: str) -> int:
    st = os.statvfs(path).f_flag
    flags = 0
    for st_bit, ms_bit in _ST_TO_MS.items():
        if st & st_bit and ms_bit != MS_RDONLY:
            flags |= ms_bit
    return flags


def _readonly(path: str) -> None:
    _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(path))


def _bind(fd_path: str, target: str, *, writable: bool = False) -> None:
    _mount(fd_path, target, None, MS_BIND | MS_REC)
    if writable:  # a bind copies the read-only flag of the mount it comes from
        _mount(None, target, None, MS_REMOUNT | MS_BIND | _locked_flags(target))
    else:
        _readonly(target)


def _make_target(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            open(path, "w").close()


def build(spec: dict) -> None:
    """Lay out the sandbox's file system as ``spec`` says (see :mod:`mlcasebook.grading.sandbox`)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # keep handles on everything we bind back before the tmpfs layers hide their paths
    keep = [(target, os.open(source, os.O_PATH), os.path.isdir(source))
            for target, source in spec["read_only"]]
    work_fd = os.open(spec["workdir"], os.O_PATH)
    for point in _mount_points():
        if point.startswith(("/proc", "/sys", "/dev")) or point == spec["workdir"]:
            continue
        try:
            _readonly(point)
        except JailError:
            if point == "/":
                raise
    layers = []  # a hidden path under /tmp is already hidden by /tmp's layer: it gets none of its own
    for point in ("/tmp", "/dev/shm", *spec["hidden"]):
        if os.path.isdir(point):
            _mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m")
            layers.append(point)
    for target, fd, is_dir in keep:
        _make_target(target, is_dir)
        _bind(f"/proc/self/fd/{fd}", target)
    for point in spec["hidden"]:  # the layers that hide paths: read-only once filled
        if point in layers:
            _readonly(point)
    _make_target(spec["workdir"], True)
    _bind(f"/proc/self/fd/{work_fd}", spec["workdir"], writable=True)
    for _target, fd, _is_dir in keep:
        os.close(fd)
    os.close(work_fd)


def limit(spec: dict) -> None:
    lim = spec["limits"]
    pairs = [(resource.RLIMIT_AS, lim.get("memory_bytes")), (resource.RLIMIT_CPU, lim.get("cpu_seconds")),
             (resource.RLIMIT_FSIZE, lim.get("file_bytes")), (resource.RLIMIT_NOFILE, lim.get("open_files")),
             (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, lim.get("processes"))]
    for which, value in pairs:
        if value is None:
            continue
        soft, hard = resource.getrlimit(which)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        resource.setrlimit(which, (value, value))


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m mlcasebook.grading.jail SPEC.json -- COMMAND...", file=sys.stderr)
        return 2
    with open(argv[0]) as fh:
        spec = json.load(fh)
    try:
        build(spec)
        limit(spec)
    except (JailError, OSError) as exc:
        print(f"mlcasebook sandbox: {exc}", file=sys.stderr)
        return EXIT_JAIL
    os.chdir(spec["workdir"])
    command = ["setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--", *argv[2:]]
    try:
        os.execvpe(command[0], command, spec["env"])
    except OSError as exc:
        print(f"mlcasebook sandbox: cannot start the kernel ({exc})", file=sys.stderr)
        return EXIT_JAIL
    return EXIT_JAIL  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
