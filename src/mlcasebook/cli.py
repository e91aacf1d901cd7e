"""`mlcasebook`: grade your notebook, see your progress, regenerate releases, set up your workspace."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

_STATUS_MARK = {"passed": "✔", "failed": "✘", "error": "⚠", "timed out": "⏱", "not attempted": "…", "manual": "✎"}


def _fmt_points(points, max_points) -> str:
    got = "–" if points is None else f"{points:g}"
    return f"{got}/{max_points:g}"


def print_report(report, out=None) -> None:
    out = out or sys.stdout
    width = max([len(p.grade_id) for p in report.parts] + [4])
    print(f"{report.notebook}  (graded against {report.source})", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)
    print(f"  {'part'.ljust(width)}  points  status          message", file=out)
    for p in report.parts:
        status = f"{_STATUS_MARK.get(p.status, '?')} {p.status}"
        print(f"  {p.grade_id.ljust(width)}  {_fmt_points(p.points, p.max_points):>6}  {status:<14}  {p.message}", file=out)
    print(f"  total: {report.score:g}/{report.max_score:g}", end="", file=out)
    if report.manual_points:
        print(f"  (+{report.manual_points:g} points for written answers, graded by hand against the rubric)", end="", file=out)
    print(f"   [{report.seconds:.1f} s]", file=out)


def cmd_check(args) -> int:
    from mlcasebook import grading, progress

    try:
        report = grading.grade(Path(args.notebook), timeout=args.timeout, memory_mb=args.memory)
    except grading.GradingInputError as exc:
        print(f"mlcasebook check: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except grading.GradingAborted as exc:
        print(f"mlcasebook check: grading could not finish: {exc}. Your file was left as it is.", file=sys.stderr)
        return EXIT_FAILURE
    try:
        progress.record(report)
    except OSError as exc:  # grading still counts; say why history was not kept
        print(f"mlcasebook check: could not record progress ({exc})", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return EXIT_OK


def cmd_progress(args) -> int:
    from mlcasebook import progress

    rows = progress.summary()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(r["notebook"]) for r in rows) if rows else 8
    print(f"{'notebook'.ljust(width)}  latest    best      when (UTC)")
    for r in rows:
        if r["latest"] is None:
            print(f"{r['notebook'].ljust(width)}  —         —         not checked yet")
            continue
        latest = f"{r['latest']['score']:g}/{r['latest']['max_score']:g}"
        best = f"{r['best']['score']:g}/{r['best']['max_score']:g}"
        print(f"{r['notebook'].ljust(width)}  {latest:<8}  {best:<8}  {r['latest']['when'].replace('T', ' ')[:16]}")
    done = sum(1 for r in rows if r["best"] and r["best"]["score"] == r["best"]["max_score"])
    print(f"{done} of {len(rows)} notebooks at full marks (history: {progress.history_file()})")
    return EXIT_OK


def cmd_release(args) -> int:
    from mlcasebook import release

    try:
        outcomes = release.release(force=args.force, assignment_ids=args.module or None, notebooks=args.notebook)
    except (release.ReleaseError, FileNotFoundError) as exc:
        print(f"mlcasebook release: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    refused = [o for o in outcomes if o.action == "refused"]
    for o in outcomes:
        line = f"{o.action:9} {o.path}"
        print(line + (f": {o.reason}" if o.reason else ""), file=sys.stderr if o.action == "refused" else sys.stdout)
    return EXIT_FAILURE if refused else EXIT_OK


def cmd_workspace(args) -> int:
    from mlcasebook import paths, release

    added = release.sync_workspace()
    for path in added:
        print(f"added {path}")
    print(f"workspace: {paths.workspace_dir()} ({len(added)} new notebook(s); existing ones left untouched)")
    return EXIT_OK


def cmd_reset(args) -> int:
    from mlcasebook import reset

    try:
        saved, what = reset.reset(Path(args.notebook), args.part)
    except reset.ResetError as exc:
        print(f"mlcasebook reset: {exc} Nothing was changed.", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"reset {what} in {args.notebook}; what it replaced is kept in {saved}")
    print("If the notebook is open in JupyterLab, use File > Reload Notebook from Disk.")
    return EXIT_OK


def cmd_lab(args) -> int:
    from mlcasebook import lab, paths, release

    root = paths.workspace_dir()
    added = release.sync_workspace()
    print(f"workspace: {root} ({len(added)} new notebook(s); yours are never overwritten)")
    argv, env = lab.learner_command(root, args.jupyter_args)
    return lab.run(argv, env, root)


def cmd_instructor(args) -> int:
    from mlcasebook import lab, paths

    course = paths.course_root()
    argv, env = lab.instructor_command(course, args.jupyter_args)
    return lab.run(argv, env, course)


def _positive_seconds(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


_saved_stderr: int | None = None
_main_pid = os.getpid()


def _interrupt(signum, frame):  # SIGINT/SIGTERM: unwind so the sandbox and temporary folders are removed
    """Raise KeyboardInterrupt, with stderr muted until ``main`` prints its one line.

    The interrupt can land anywhere, e.g. inside subprocess's fork, where Python then reports "Exception ignored
    in ..." with a traceback on stderr (also past ``sys.unraisablehook``); none of that helps the learner."""
    global _saved_stderr
    if os.getpid() != _main_pid:
        # a child forked by the grader, between fork and exec (Ctrl-C reaches the whole process group): raising
        # here would print "Exception ignored in ..." from the child; it execs or is killed as the grader unwinds
        return
    if _saved_stderr is None:
        try:
            sys.stderr.flush()
            _saved_stderr = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            pass
    raise KeyboardInterrupt


def _unmute_stderr() -> None:
    global _saved_stderr
    if _saved_stderr is not None:
        os.dup2(_saved_stderr, 2)
        os.close(_saved_stderr)
        _saved_stderr = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlcasebook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="grade a copy of your notebook with the hidden tests",
                       description="Grade a copy of NOTEBOOK against its source in solutions/ (hidden tests "
                                   "included). Your file is only read. Exit 0 when graded, 2 on bad input.")
    p.add_argument("notebook", help="path to your notebook, e.g. workspace/02_case_studies/churn_imbalance.ipynb")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--timeout", type=_positive_seconds, default=60.0, metavar="S",
                   help="seconds allowed per cell, a positive number (default 60)")
    p.add_argument("--memory", type=_positive_int, default=2048, metavar="MB",
                   help="memory the graded notebook's kernel may use (default 2048)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("progress", help="latest and best score of every notebook")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader",
                       description="Regenerate the learner releases in notebooks/ from solutions/. Idempotent; "
                                   "refuses to overwrite a release file edited by hand unless --force.")
    p.add_argument("module", nargs="*", help="module folders to release (default: all)")
    p.add_argument("--notebook", action="append", metavar="NAME",
                   help="release only this notebook of the module(s) (name without .ipynb; repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite release files even if edited by hand")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("reset", help="put one answer cell (or the whole notebook) back to the release",
                       description="Put PART (an answer cell's grade id, e.g. churn_metric) or the whole NOTEBOOK back "
                                   "to the release, after copying the file as it was to .backups/ beside it.")
    p.add_argument("notebook", help="path to your notebook, e.g. workspace/02_case_studies/churn_imbalance.ipynb")
    p.add_argument("part", nargs="?", help="the answer cell to reset (default: the whole notebook)")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("lab", help="copy new notebooks into workspace/ and open the learner's JupyterLab there",
                       description="Open JupyterLab on workspace/ without nbgrader's instructor tools; grade from a "
                                   "notebook with %check. Other arguments go to jupyter lab (e.g. --no-browser).")
    p.set_defaults(func=cmd_lab, passes_extra=True)

    p = sub.add_parser("instructor", help="open JupyterLab at the course root with nbgrader's Formgrader",
                       description="Open JupyterLab at the course root with every nbgrader extension (Formgrader, "
                                   "Create Assignment). Other arguments go to jupyter lab.")
    p.set_defaults(func=cmd_instructor, passes_extra=True)

    p = sub.add_parser("workspace", help="copy new release notebooks into workspace/ (never overwrites)")
    p.set_defaults(func=cmd_workspace)

    p = sub.add_parser("autograde", help="instructors: grade a cohort's submissions in parallel into nbgrader's gradebook",
                       description="Run at the course root like `nbgrader autograde ASSIGNMENT`: grade every "
                                   "submitted/<student>/ASSIGNMENT/ notebook in the sandbox on Dask workers and write "
                                   "autograded/ and the gradebook as nbgrader does (Formgrader, generate_feedback and "
                                   "export work unchanged). Unchanged submissions are skipped on a rerun. Exit 0 when "
                                   "every submission was graded, 1 when some could not be (each is named), 2 on bad input.")
    p.add_argument("assignment", help="the assignment (module folder), e.g. 02_case_studies")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="grading processes on this machine (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://10.0.0.5:8786, whose workers "
                                                          "run the same course install (default: a local cluster)")
    p.add_argument("--timeout", type=_positive_seconds, default=None, metavar="S",
                   help="seconds allowed per cell (default: ExecutePreprocessor.timeout in nbgrader_config.py)")
    p.add_argument("--force", action="store_true", help="regrade submissions that did not change")
    p.add_argument("--report", metavar="FILE", help="also write the summary as JSON: one record per student and "
                                                    "notebook, with its score, status, seconds and peak memory")
    p.add_argument("--root", default=".", help="the course root (default: the current folder)")
    p.set_defaults(func=cmd_autograde)
    return parser


def cmd_autograde(args) -> int:
    from mlcasebook.grading import pool

    pool.skip_unused_imports()  # before nbformat's first import
    if not args.scheduler:
        pool.prestart()  # first: the zygotes import while this process does
    from mlcasebook import autograde

    root = Path(args.root).expanduser().resolve()
    try:
        outcomes = autograde.run(root, args.assignment, students=args.student, workers=args.workers,
                                 scheduler=args.scheduler, timeout=args.timeout, force=args.force)
    except autograde.AutogradeError as exc:
        print(f"mlcasebook autograde: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(autograde.table(outcomes))
    if args.report:
        import json
        from dataclasses import asdict

        try:
            Path(args.report).expanduser().write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
        except OSError as exc:
            print(f"mlcasebook autograde: could not write the report {args.report} ({exc.strerror}); "
                  "the gradebook and autograded/ were written.", file=sys.stderr)
            return EXIT_BAD_INPUT
    return 1 if any(o.status == "error" for o in outcomes) else 0


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)  # a bad option exits 2 with argparse's one-line message
    if extra and not getattr(args, "passes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    from mlcasebook.curriculum import ManifestError
    from mlcasebook.paths import CourseNotFoundError

    global _main_pid
    _main_pid = os.getpid()
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return args.func(args)
    except (CourseNotFoundError, ManifestError) as exc:
        print(f"mlcasebook: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _unmute_stderr()
        print(f"mlcasebook {args.command}: interrupted; nothing was changed.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _unmute_stderr()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
