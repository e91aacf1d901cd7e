"""`make bench`: measure every solution notebook and the grading paths; write benchmarks/results.json.

Each figure sits beside its baseline measured in the same run:
* execution seconds of each solution notebook (budget 20 s) and the kernel's peak memory;
* `mlcasebook check` seconds on the solution (sandboxed kernel + verdict process) vs plain execution of the
  same notebook (ratio, and the overhead in percent), and the same check with the namespace sandbox off; plain
  execution and check are timed --repeats times (default 3), interleaved, and the minimum of each is reported;
* `nbgrader autograde` seconds for the same notebook in a scratch course (what a cohort instructor runs);
* for notebooks with a ground truth: the reference solution's metric vs the generator's optimum;
* a cohort (benchmarks/cohort.py): 20 submissions graded by `nbgrader autograde` and by `mlcasebook autograde
  --workers 2` (and through a separate LocalCluster's scheduler): seconds, ratio, identical scores, worker memory.
Options: --only NAME (substring of the notebook path), --suite (also time the whole test suite and project it to
19 notebooks: benchmarks/suite.py), --suite-only, --no-cohort.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mlcasebook import curriculum

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 20.0

# Code run after a solution notebook, in its kernel, to read the reference metric and its optimum.
PROBES = {
    "churn_imbalance": (
        "import json\n"
        "_h = datasets.make_churn(10_000, random_state=8128)\n"
        "_ap = average_precision_score(_h.target, pipeline.predict_proba(_h.frame)[:, 1])\n"
        "print('BENCH ' + json.dumps({'metric': 'average precision',"
        " 'test_reference': round(float(test_ap), 4),"
        " 'test_oracle': round(float(data.truth.oracle_average_precision(y_test, X_test.index)), 4),"
        " 'heldout_reference': round(float(_ap), 4),"
        " 'heldout_oracle': round(float(_h.truth.oracle_average_precision(_h.target)), 4)}))\n"
    ),
}


def _env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def execute(notebook: Path) -> dict:
    probe = PROBES.get(notebook.stem, "")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "execute_notebook.py"), str(notebook), probe],
                         capture_output=True, text=True, env=_env(), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_seconds(notebook: Path, sandbox_kind: str | None = None) -> tuple[float, float, float, str]:
    from mlcasebook import grading

    started = time.perf_counter()
    report = grading.grade(notebook, sandbox_kind=sandbox_kind)
    return round(time.perf_counter() - started, 2), report.score, report.max_score, report.sandbox


def autograde_seconds(notebook: Path) -> float:
    """nbgrader generate + autograde of one submission (the solution) in a scratch course; autograde timed alone."""
    with tempfile.TemporaryDirectory(prefix="mlcasebook-bench-") as tmp:
        course = Path(tmp)
        module = notebook.parent.name
        (course / "solutions" / module).mkdir(parents=True)
        shutil.copy(notebook, course / "solutions" / module)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        run = lambda *a: subprocess.run([sys.executable, "-m", "nbgrader", *a], cwd=course, env=_env(),  # noqa: E731
                                        capture_output=True, text=True, check=True)
        run("generate_assignment", module, "--force")
        sub = course / "submitted" / "bench" / module
        sub.mkdir(parents=True)
        shutil.copy(notebook, sub)
        started = time.perf_counter()
        run("autograde", module)
        return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="benchmark only notebooks whose path contains this (their "
                        "entries in the output are replaced, the others kept)")
    parser.add_argument("--suite", action="store_true", help="also time `make test` and project it to the full "
                        "curriculum (benchmarks/suite.py)")
    parser.add_argument("--suite-only", action="store_true", help="time `make test` only; keep the other figures")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--no-cohort", action="store_true", help="skip the cohort throughput comparison")
    parser.add_argument("--repeats", type=int, default=3,
                        help="plain execution and check are each timed this many times, interleaved; the minimum is "
                             "reported (the run least disturbed by other work on the machine)")
    args = parser.parse_args()

    notebooks = [p for p in (case.source(ROOT) for case in curriculum.cases(ROOT)) if args.only in str(p)]
    if args.suite_only:
        notebooks, args.no_cohort = [], True
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average_at_start": os.getloadavg()[0]},
               "budget_seconds_per_notebook": BUDGET_SECONDS, "notebooks": {}}
    for nb in notebooks:
        name = f"{nb.parent.name}/{nb.stem}"
        print(f"· {name}: executing", flush=True)
        plains, checks = [], []
        for _ in range(max(1, args.repeats)):  # interleaved, so a burst of load elsewhere hits both alike
            plains.append(execute(nb))
            checks.append(check_seconds(nb))
        plain = min(plains, key=lambda run: run["seconds"])
        check_s, score, max_score, mechanism = min(checks)
        print(f"  plain execution {[r['seconds'] for r in plains]} s; check {[c[0] for c in checks]} s", flush=True)
        limits_s, *_ = check_seconds(nb, "limits")
        print(f"  check {check_s} s ({score:g}/{max_score:g}, sandbox {mechanism}); without namespaces {limits_s} s; "
              "nbgrader autograde", flush=True)
        auto_s = autograde_seconds(nb)
        entry = {
            "execution_seconds": plain["seconds"],
            "within_budget": plain["seconds"] <= BUDGET_SECONDS,
            "kernel_peak_rss_mb": plain["kernel_peak_rss_mb"],
            "execution_errors": plain["errors"],
            "check_seconds": check_s,
            "runs": {"execution_seconds": [r["seconds"] for r in plains], "check_seconds": [c[0] for c in checks]},
            "check_sandbox": mechanism,
            "check_vs_execution_ratio": round(check_s / plain["seconds"], 2),
            # the bar: sandbox + verdict process cost at most 15 % over plain execution
            "sandbox_and_verdict_overhead_pct": round(100 * (check_s / plain["seconds"] - 1), 1),
            "check_without_namespaces_seconds": limits_s,
            "check_score": f"{score:g}/{max_score:g}",
            "nbgrader_autograde_seconds": auto_s,
            "check_vs_autograde_ratio": round(check_s / auto_s, 2),
        }
        m = plain.get("measured") or {}
        if m:
            entry["reference_vs_optimum"] = {
                **m,
                "test_ratio": round(m["test_reference"] / m["test_oracle"], 3),
                "heldout_ratio": round(m["heldout_reference"] / m["heldout_oracle"], 3),
            }
        entry["measured_at"] = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                "load_average": round(os.getloadavg()[0], 2)}
        results["notebooks"][name] = entry
        print(f"  autograde {auto_s} s", flush=True)
    if not args.no_cohort:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import cohort

        print("· cohort: 20 submissions, nbgrader autograde vs mlcasebook autograde --workers 2", flush=True)
        results["cohort"] = cohort.measure()
        print(f"  ratio {results['cohort']['throughput_ratio_vs_nbgrader']}x, identical "
              f"{results['cohort']['identical_scores_and_flags']}", flush=True)
    if args.suite or args.suite_only:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import suite

        print("· suite: make test, today and projected to the full curriculum", flush=True)
        results["suite"] = suite.measure(_env())
        projected = results["suite"]["projected"]
        print(f"  {results['suite']['seconds']} s today ({results['suite']['notebooks']} notebooks), "
              f"projected {projected['seconds']} s at {projected['notebooks']}", flush=True)
    out = Path(args.output)
    if (args.only or args.suite_only) and out.is_file():  # a partial run keeps every other figure as it was
        previous = json.loads(out.read_text())
        results = {**previous, "notebooks": {**previous.get("notebooks", {}), **results["notebooks"]},
                   **{k: v for k, v in results.items() if k not in ("notebooks", "when", "machine")}}
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
