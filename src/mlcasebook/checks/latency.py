"""Checks for the serving latency case (03_system_design/serving_latency).

The case: three churn models (a logistic regression, a small and a large random forest) serve one request at a
time under a p99 budget (:mod:`mlcasebook.cases.latency`). The learner writes procedures — ``percentile``,
``time_predict`` (and the measurement table it fills), ``choose_model``, ``tail_breakdown``, the fan-out
probability and its simulation, ``rollback`` — and hidden tests call them on inputs built here from the seed the
hidden cell passes. No timing measured on the grading machine is ever compared with an absolute number: the
timing procedure is judged on :class:`~mlcasebook.datasets.latency.ScriptedModel`, whose calls take scripted
times, and the model choice on tables built here and on the learner's own measurements.

Messages name the mistake, never a hidden input, seed, count of cases or expected value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from mlcasebook.cases import latency as case
from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, is_stub, not_attempted
from mlcasebook.datasets.latency import ScriptedModel, Stage, make_canary_stream, stage_frame

# ---------------------------------------------------------------- percentile

#: the two conventions the notebook accepts: numpy's default (linear interpolation between the closest ranks,
#: Hyndman & Fan type 7) and the nearest rank (the smallest value with at least q % of the samples at or below it,
#: type 1, numpy's "inverted_cdf")
ACCEPTED_METHODS = ("linear", "inverted_cdf")
_OTHER_METHODS = ("lower", "higher", "nearest", "midpoint", "hazen", "weibull", "median_unbiased",
                  "normal_unbiased", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf")


def _same(a: float, b: float) -> bool:
    return bool(np.isfinite(a)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _any_same(value: float, candidates) -> bool:
    return any(_same(value, c) for c in candidates)


def percentile_cases(seed: int) -> list[tuple[object, float]]:
    """(samples, q) pairs in random order, lognormal (so the mean is not the median). Most have q * n / 100 a whole
    number, where taking element ``int(q * n / 100)`` of the sorted samples is one rank too high; one is a list and
    one a pandas Series whose index labels are shuffled positions."""
    rng = np.random.default_rng(seed)
    shapes = [(100 * int(rng.integers(1, 4)), 99.0), (200, 95.0), (1000, 99.9), (40, 90.0), (10, 50.0),
              (int(rng.integers(5, 9)), 50.0), (int(rng.integers(900, 1100)) | 1, 99.0), (10, 99.0), (400, 75.0)]
    out = []
    for i, (n, q) in enumerate(shapes):
        x = np.round(rng.lognormal(1.0, 0.8, n), 4) + rng.uniform(0, 1e-3, n)  # distinct values
        if i == 3:
            out.append((list(map(float, x)), q))
        elif i == 8:
            out.append((pd.Series(x, index=rng.permutation(n)), q))
        else:
            out.append((x, q))
    return out


def _values(samples) -> np.ndarray:
    return np.asarray(samples.to_numpy() if isinstance(samples, pd.Series) else samples, float)


def _variants(samples, q: float) -> dict[str, list[float]]:
    """What each known mistake returns on these samples."""
    x = _values(samples)
    n, s = len(x), np.sort(x)
    rank = math.ceil(q * n / 100) - 1  # nearest rank, 0-based
    idx = {rank, rank - 1, rank + 1, int(q * n / 100), int(q * (n - 1) / 100), round(q * (n - 1) / 100),
           math.ceil(q * (n - 1) / 100)}
    idx = sorted(i for i in idx if 0 <= i < n)
    near = [float(s[i]) for i in (rank - 1, rank + 1, int(q * n / 100)) if 0 <= i < n]
    h = q / 100 * n  # linear interpolation on the wrong rank scale (n instead of n - 1)
    lo = min(int(math.floor(h)), n - 1)
    near.append(float(s[lo] + (h - lo) * (s[min(lo + 1, n - 1)] - s[lo])))
    out = {
        "accepted": [float(np.percentile(x, q, method=m)) for m in ACCEPTED_METHODS],
        "mean": [float(np.mean(x))],
        "fraction": [float(np.percentile(x, q / 100, method=m)) for m in ACCEPTED_METHODS + _OTHER_METHODS],
        "unsorted": [float(x[i]) for i in idx],
        "off_by_one": near,
        "other": [float(np.percentile(x, q, method=m)) for m in _OTHER_METHODS],
        "label": [],
    }
    if isinstance(samples, pd.Series):
        order = samples.sort_values()
        out["label"] = [float(order.loc[i]) for i in idx if i in order.index]
    return out


PERCENTILE_FUNCTION = Ladder(
    Misconception("not_a_number", lambda e: e.not_number,
                  "percentile must return one number for one q; yours returned {e.got}."),
    Misconception("mean_not_percentile", lambda e: e.matches("mean"),
                  "Your percentile returns the mean of the samples whatever q is: the mean of skewed latencies says "
                  "nothing about how slow the slowest requests are."),
    Misconception("fraction_scale", lambda e: e.matches("fraction"),
                  "Your percentile reads q as a fraction (0.99) although it is given in percent (99), so it returns "
                  "a value near the smallest sample."),
    Misconception("label_not_position", lambda e: e.matches("label"),
                  "On a pandas Series your percentile picks the value by its index label instead of its position "
                  "after sorting (series[k] looks up labels)."),
    Misconception("unsorted", lambda e: e.matches("unsorted"),
                  "Your percentile takes an element at the right rank of the samples as they came, without sorting "
                  "them first, so it returns an arbitrary value."),
    Misconception("off_by_one", lambda e: e.matches("off_by_one"),
                  "Your percentile is one rank off on samples where q * n / 100 is a whole number (or interpolates "
                  "on the wrong rank scale): Python counts positions from zero while ranks count from one."),
    Misconception("other_convention", lambda e: e.matches("other"),
                  "Your percentile follows a convention other than the two the text defines (it rounds the rank, "
                  "takes the midpoint of the neighbours or another interpolation): use one of those two so your "
                  "p99 is comparable with everyone else's."),
    Misconception("wrong_percentile", None,
                  "Your percentile differs from both accepted conventions on {e.what}."),
    passed="Your percentile matches an accepted convention on every sample tried: sorted, in percent, at the "
           "right rank.",
)


def _describe_sample(samples, q) -> str:
    kind = "a list" if isinstance(samples, list) else "a Series" if isinstance(samples, pd.Series) else "an array"
    return f"{kind} of samples"


@check("percentile function", stub_hint="implement `percentile(samples, q)`", ladder=PERCENTILE_FUNCTION)
def percentile_function(name: str, percentile: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``percentile(samples, q)`` on :func:`percentile_cases` and compare with numpy's linear interpolation
    and the nearest rank (either is accepted, case by case).

    Detected: the mean; q read as a fraction; a Series indexed by label; unsorted samples; one rank off (the
    ``int(q * n / 100)`` index, or interpolation on n instead of n - 1); another of numpy's conventions.
    """
    cases = percentile_cases(seed)
    got = []
    for samples, q in cases:
        arg = samples.copy() if hasattr(samples, "copy") else list(samples)
        value = percentile(arg, q)
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            return PERCENTILE_FUNCTION.fail(name, "not_a_number", Evidence(got=f"a {type(value).__name__}"))
        if not np.isfinite(got[-1]):
            return PERCENTILE_FUNCTION.fail(name, "not_a_number", Evidence(got="nan or inf"))
    variants = [_variants(s, q) for s, q in cases]
    wrong = [i for i, (v, var) in enumerate(zip(got, variants, strict=True)) if not _any_same(v, var["accepted"])]

    def matches(kind: str) -> bool:
        if kind == "label":  # series[k] on a Series is a label lookup: on an array it was the unsorted element
            return any(_any_same(got[i], variants[i]["label"]) for i in wrong) and all(
                _any_same(got[i], variants[i]["label"] + variants[i]["unsorted"]) for i in wrong)
        return bool(wrong) and all(_any_same(got[i], variants[i][kind]) for i in wrong)

    e = Evidence(not_number=False, matches=matches, correct=not wrong,
                 what=_describe_sample(*cases[wrong[0]]) if wrong else "no sample")
    return PERCENTILE_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- timing procedure

#: the default of the optional table arguments: "not given" (a unit test of the procedure alone), unlike a None
#: the notebook passes while its stub is untouched
NOT_GIVEN = object()

COLD_MS = 30.0       # a scripted cold call
COLD_SEEN_MS = 20.0  # a returned time at or above this is a cold call (warm calls are scripted below 13 ms)
PAUSE_MS = 6.0


def timing_script(seed: int) -> dict:
    """The scripted model's settings and the call to make, from the seed."""
    rng = np.random.default_rng(seed)
    return {"base_ms": float(rng.uniform(0.8, 1.4)), "per_row_ms": 0.02, "pause_every": int(rng.integers(6, 10)),
            "batch": int(rng.integers(120, 180)), "n_repeats": int(rng.integers(30, 42)),
            "n_warmup": int(rng.integers(4, 7)), "rows": 400}


def _timing_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    return pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"x{i}" for i in range(6)])


MEASUREMENT_COLUMNS = ("model", "batch_size", "n_calls", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "rows_per_s")

TIMING_FUNCTION = Ladder(
    Misconception("not_times", lambda e: e.not_times,
                  "time_predict must return the per-call times as an array (or list) of numbers; yours returned "
                  "{e.got}."),
    Misconception("warmup_timed", lambda e: e.warmup_timed,
                  "Your time_predict returns a time for the warm-up calls too: warm-up calls exist to be thrown "
                  "away (the first calls pay for lazy loading and cold caches)."),
    Misconception("wrong_count", lambda e: e.wrong_count,
                  "Your time_predict does not return one time per timed call: it must make exactly n_repeats "
                  "timed calls and return each one's time."),
    Misconception("seconds_not_ms", lambda e: e.seconds,
                  "Your times are a thousand times too small: time.perf_counter() counts seconds, and the table "
                  "and the budget are in milliseconds."),
    Misconception("cpu_clock", lambda e: e.cpu,
                  "Your times stay near zero while the calls take milliseconds of wall-clock time: a CPU clock "
                  "(time.process_time) does not count waiting (I/O, locks, sleeping threads), which a user does "
                  "wait for."),
    Misconception("no_warmup", lambda e: e.cold,
                  "Your times include the model's first, cold calls: make the n_warmup calls first, untimed, then "
                  "time the n_repeats calls."),
    Misconception("ignores_batch_size", lambda e: e.same_batch,
                  "Your times do not grow with batch_size: every call should predict batch_size rows of X."),
    Misconception("averaged_not_per_call", lambda e: e.flat,
                  "Your times hardly vary although some of the model's calls are several times slower than the "
                  "others: they look like a loop's total divided by its calls, which hides exactly the slow calls "
                  "a p99 is about; time every call on its own."),
    Misconception("table_columns", lambda e: e.bad_table,
                  "measurements must be a DataFrame with the columns {e.columns}, one row per model and batch size; "
                  "{e.what}."),
    Misconception("missing_timings", lambda e: e.no_timings,
                  "timings must hold the per-call times behind every row of measurements, keyed by (model, "
                  "batch_size); {e.what}."),
    Misconception("too_few_calls", lambda e: e.few,
                  "Your single-request rows rest on fewer than {e.min_calls} timed calls: with so few the p99 is "
                  "the slowest call or two, or undefined."),
    Misconception("table_not_from_calls", lambda e: e.not_from_calls,
                  "Your measurements' {e.column} for {e.where} is not computed from the per-call times in timings "
                  "(a mean or a total where a percentile of the calls belongs?)."),
    Misconception("throughput_not_from_mean", lambda e: e.throughput,
                  "Your rows_per_s for {e.where} does not follow from the calls: throughput is the rows served per "
                  "second of calling, over all calls, not a typical or a worst call."),
    Misconception("wrong_times", None,
                  "Your times are not the wall-clock times of the calls the script makes: time each call with "
                  "time.perf_counter() around predict_proba alone."),
    passed="Your time_predict warms up and times every call on the wall clock, in milliseconds, with the rows asked "
           "for{e.table_note}.",
)


def _call_time_predict(time_predict: Callable, seed: int, batch: int):
    script = timing_script(seed)
    model = ScriptedModel(base_ms=script["base_ms"], per_row_ms=script["per_row_ms"], cold_calls=script["n_warmup"],
                          cold_ms=COLD_MS, pause_every=script["pause_every"], pause_ms=PAUSE_MS)
    X = _timing_frame(script["rows"], seed)
    return time_predict(model, X, batch, n_repeats=script["n_repeats"], n_warmup=script["n_warmup"])


def _times(result) -> np.ndarray | None:
    try:
        values = np.asarray(result, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    return values if values.size and np.all(np.isfinite(values)) else None


def _table_evidence(e: Evidence, measurements, timings) -> Evidence:
    """Fill the table fields of ``e``: is ``measurements`` computed from the per-call ``timings``?"""
    if not isinstance(measurements, pd.DataFrame):
        e.bad_table = True
        e.what = "yours is still None" if measurements is None else f"yours is a {type(measurements).__name__}"
        return e
    missing = [c for c in MEASUREMENT_COLUMNS if c not in measurements.columns]
    if missing:
        e.bad_table, e.what = True, f"yours has no {', '.join(missing)}"
        return e
    if not (measurements["batch_size"] == 1).any() or measurements["model"].nunique() < 2:
        e.bad_table, e.what = True, "it needs a batch_size 1 row for every model you compare"
        return e
    if not isinstance(timings, Mapping):
        e.no_timings, e.what = True, f"yours is a {type(timings).__name__}"
        return e
    for row in measurements.itertuples(index=False):
        key = (row.model, int(row.batch_size))
        where = f"{row.model} at batch size {int(row.batch_size)}"
        times = timings.get(key)
        times = None if times is None else _times(times)
        if times is None:
            e.no_timings, e.what = True, f"there are none for {where}"
            return e
        if int(row.batch_size) == 1 and (len(times) < case.MIN_CALLS or row.n_calls < case.MIN_CALLS):
            e.few = True
            return e
        for column, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
            want = [float(np.percentile(times, q, method=m)) for m in ACCEPTED_METHODS]
            if not any(math.isclose(float(getattr(row, column)), w, rel_tol=1e-6, abs_tol=1e-9) for w in want):
                e.not_from_calls, e.column, e.where = True, column, where
                return e
        if not math.isclose(float(row.mean_ms), float(times.mean()), rel_tol=1e-6, abs_tol=1e-9):
            e.not_from_calls, e.column, e.where = True, "mean_ms", where
            return e
        # rows per second of calling: batch_size rows per call over the mean call time (0.2 % for rounding)
        want = int(row.batch_size) * 1000.0 / float(times.mean())
        if not math.isclose(float(row.rows_per_s), want, rel_tol=0.002):
            e.throughput, e.where = True, where
            return e
    return e


@check("timing procedure", stub_hint="implement `time_predict(model, X, batch_size, n_repeats, n_warmup)`",
       ladder=TIMING_FUNCTION)
def timing_function(name: str, time_predict: Callable, measurements=NOT_GIVEN, timings=None, *,
                    seed: int = 0) -> CheckResult:
    """Time :class:`ScriptedModel` with ``time_predict`` at batch size 1 and at a large batch, then (if given)
    check that ``measurements`` is computed from ``timings``.

    The scripted model sleeps: 30 ms for each of the first ``n_warmup`` calls, then a base of 0.8-1.4 ms plus
    0.02 ms a row, plus 6 ms every 6th-9th call. Seen: warm-up calls timed or returned (the first, or last,
    ``n_warmup - 1`` times all of 20 ms or more), seconds (a batch-one median below 0.02 with the batch effect
    intact), a CPU clock (the median below 30 % of the scripted time), a loop's average (the largest time under twice
    the median although every pause is five times the base), a batch size ignored (the large batch's median under
    1.8 times the single row's, where the script makes it 2.6-4.4 times). Sleeping overshoots by a fraction of a
    millisecond and a loaded machine adds stalls; these thresholds sit far from both.
    """
    script = timing_script(seed)
    e = Evidence(not_times=False, warmup_timed=False, wrong_count=False, seconds=False, cpu=False, cold=False,
                 flat=False, same_batch=False, got="", bad_table=False, no_timings=False, few=False,
                 not_from_calls=False, throughput=False, columns=", ".join(MEASUREMENT_COLUMNS),
                 min_calls=case.MIN_CALLS, what="", column="", where="", table_note="")
    runs = {}
    for batch in (1, script["batch"]):
        raw = _call_time_predict(time_predict, seed, batch)
        times = _times(raw)
        if times is None:
            e.not_times, e.got = True, f"a {type(raw).__name__}"
            return TIMING_FUNCTION.judge(name, e)
        runs[batch] = times
    one, big = runs[1], runs[script["batch"]]
    n, w = script["n_repeats"], script["n_warmup"]
    # The script makes exactly the first n_warmup calls cold (30 ms). Timed without a warm-up, they are the first
    # times returned (the last ones if the times come sorted). A loaded machine stalls a warm call now and then,
    # never n_warmup - 1 calls in a row at the start, so only a run of cold times there counts.
    def cold_run(t: np.ndarray) -> bool:
        k = w - 1
        cold = (t >= COLD_SEEN_MS) & (t <= 10 * COLD_MS)
        return len(t) >= k > 0 and (bool(cold[:k].all()) or bool(cold[-k:].all()))

    enough_cold = any(cold_run(t) for t in runs.values())
    e.warmup_timed = any(len(t) == n + w for t in runs.values()) and enough_cold
    e.wrong_count = any(len(t) != n for t in runs.values())
    med1, medb = float(np.median(one)), float(np.median(big))
    expected1 = script["base_ms"] + script["per_row_ms"]
    ratio = medb / med1 if med1 > 0 else 0.0
    e.seconds = 0 < med1 < 0.02 * expected1 and ratio > 1.8
    e.cpu = med1 < 0.3 * expected1
    e.cold = enough_cold
    e.flat = float(one.max()) < 2.0 * med1
    e.same_batch = ratio < 1.8
    e.correct = med1 < 10 * expected1 + 5
    if measurements is not NOT_GIVEN:
        _table_evidence(e, measurements, timings)
        e.table_note = ", and your measurements are computed from your per-call timings"
    return TIMING_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- choosing a model under a p99 budget

# Hidden tables, in units of a tenth of the budget: (quality, mean, p50, p95, p99) of a single request. Each is built
# so that one family of mistakes picks another model (see the module's tests): judging by the mean, the median, the
# p95, the fastest model, the best model ignoring the budget, the latency per row of a batch, the latency of the
# largest batch, a strict inequality at the budget, and a model returned when none fits.
_TABLES = {
    "percentiles": [(0.90, 12, 8, 25, 40), (0.88, 7, 6.5, 12, 20), (0.86, 6, 5.5, 9, 14), (0.84, 4, 3.8, 6, 9),
                    (0.80, 1, 0.9, 1.5, 2)],
    "per_row": [(0.91, 30, 28, 45, 60), (0.89, 9, 8, 14, 18), (0.87, 4, 3.5, 7, 9.5), (0.83, 1, 0.9, 1.6, 2.2)],
    "ignore": [(0.92, 400, 380, 600, 900), (0.90, 14, 9.5, 30, 45), (0.86, 5, 4.5, 8, 8.5), (0.84, 2, 1.8, 3, 4)],
    "none_fits": [(0.90, 12, 9, 18, 25), (0.85, 8, 7, 13, 16), (0.80, 6, 5, 9, 12)],
    "boundary": [(0.90, 20, 15, 30, 40), (0.87, 6, 5.5, 8, 10), (0.84, 3, 2.8, 5, 7)],
}
_BATCH_GROWTH = {1: 1.0, 8: 1.5, 64: 4.0}  # a batch's call time relative to a single row's
_NAMES = ("logistic", "forest_small", "forest_large", "boosting", "knn", "blend", "mlp", "svm", "tree")


def chooser_tables(seed: int) -> dict[str, tuple[pd.DataFrame, float, dict]]:
    """(measurements, budget_ms, quality) per hidden table: names, scale, quality values and row order from the
    seed, every model measured at batch sizes 1, 8 and 64."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, rows in _TABLES.items():
        scale = float(rng.uniform(0.4, 3.0))
        unit = scale  # ms per tenth of the budget
        budget = 10 * unit
        names = list(rng.choice(_NAMES, len(rows), replace=False))
        jitter = np.sort(rng.uniform(0.0, 0.004, len(rows)))[::-1]
        records, quality = [], {}
        for (q, mean, p50, p95, p99), name, j in zip(rows, names, jitter, strict=True):
            quality[str(name)] = round(q + j, 4)
            for batch, growth in _BATCH_GROWTH.items():
                m = mean * unit * growth
                records.append({"model": str(name), "batch_size": batch, "n_calls": 200 if batch == 1 else 30,
                                "mean_ms": m, "p50_ms": p50 * unit * growth, "p95_ms": p95 * unit * growth,
                                "p99_ms": p99 * unit * growth, "rows_per_s": batch * 1000.0 / m})
        frame = pd.DataFrame(records).sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
        if key == "boundary":  # the budget is exactly the single-request p99 of the model that should be chosen
            budget = float(frame.loc[(frame["batch_size"] == 1) & (frame["model"] == names[1]), "p99_ms"].iloc[0])
        out[key] = (frame, budget, quality)
    return out


def _single(measurements: pd.DataFrame) -> pd.DataFrame:
    return measurements[measurements["batch_size"] == 1]


def _best(models, quality) -> str | None:
    models = list(models)
    return max(models, key=lambda m: quality[m]) if models else None


def reference_choose(measurements: pd.DataFrame, budget_ms: float, quality: Mapping) -> str | None:
    """The best model by ``quality`` among those whose single-request p99 is within the budget (``None`` if none)."""
    one = _single(measurements)
    return _best(one.loc[one["p99_ms"] <= budget_ms, "model"], quality)


def _by(column: str, strict: bool = False) -> Callable:
    def choose(measurements, budget_ms, quality):
        one = _single(measurements)
        ok = one[column] < budget_ms if strict else one[column] <= budget_ms
        return _best(one.loc[ok, "model"], quality)
    return choose


def _fastest(measurements, budget_ms, quality):
    one = _single(measurements)
    return str(one.loc[one["p99_ms"].idxmin(), "model"])


def _ignore_budget(measurements, budget_ms, quality):
    return _best(measurements["model"].unique(), quality)


def _per_row(measurements, budget_ms, quality):
    per_row = (measurements["p99_ms"] / measurements["batch_size"]).groupby(measurements["model"]).min()
    return _best(per_row.index[per_row <= budget_ms], quality)


def _all_batches(measurements, budget_ms, quality):
    worst = measurements.groupby("model")["p99_ms"].max()
    return _best(worst.index[worst <= budget_ms], quality)


#: the wrong choosers, by misconception id (the ladder's order)
WRONG_CHOOSERS = {
    "ignores_budget": _ignore_budget,
    "fastest_model": _fastest,
    "mean_latency": _by("mean_ms"),
    "median_latency": _by("p50_ms"),
    "lower_percentile": _by("p95_ms"),
    "per_row_latency": _per_row,
    "largest_batch": _all_batches,
    "strict_budget": _by("p99_ms", strict=True),
}


def _norm_choice(value):
    if value is None or value is False:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


CHOOSER = Ladder(
    Misconception("not_a_model_name", lambda e: e.not_name,
                  "choose_model must return the name of one model of the table it is given (or None); yours "
                  "returned {e.got}."),
    Misconception("uses_globals", lambda e: e.same_everywhere,
                  "Your chooser returns the same answer for tables with other models and budgets: it must use its "
                  "arguments, not the notebook's measurements."),
    Misconception("not_in_table", lambda e: e.foreign,
                  "Your chooser returned a name that is not a model of the table it was given."),
    Misconception("ignores_budget", lambda e: e.like("ignores_budget"),
                  "Your chooser returns the best model whatever its latency: the budget is a requirement, not a "
                  "tie-breaker."),
    Misconception("fastest_model", lambda e: e.like("fastest_model"),
                  "Your chooser returns the fastest model, not the best one that meets the budget: quality decides "
                  "among the models that fit."),
    Misconception("mean_latency", lambda e: e.like("mean_latency"),
                  "Your chooser compares the mean latency with a p99 budget: a model can be fast on average and "
                  "still make one request in a hundred wait far too long."),
    Misconception("median_latency", lambda e: e.like("median_latency"),
                  "Your chooser compares the median latency with a p99 budget: half the requests are slower than "
                  "the median, and the budget is about the slowest one in a hundred."),
    Misconception("lower_percentile", lambda e: e.like("lower_percentile"),
                  "Your chooser compares a lower percentile than the budget's with it: one request in twenty is "
                  "not one in a hundred."),
    Misconception("per_row_latency", lambda e: e.like("per_row_latency"),
                  "Your chooser divides a batch's latency by its rows: a single request waits for a whole call, so "
                  "the latency it sees is the batch-of-one row's, not a batch's cost per row."),
    Misconception("largest_batch", lambda e: e.like("largest_batch"),
                  "Your chooser requires every batch size to meet the budget: a request served alone sees the "
                  "batch-of-one latency; large batches are for offline scoring."),
    Misconception("strict_budget", lambda e: e.like("strict_budget"),
                  "Your chooser rejects a model whose p99 equals the budget: meeting the budget means a p99 at or "
                  "below it."),
    Misconception("no_none", lambda e: e.none_missed,
                  "When no model meets the budget your chooser still returns one (or fails): it must return None, so "
                  "the caller knows to change the budget, the model or the serving path."),
    Misconception("own_table_unusable", lambda e: e.unusable,
                  "Your chooser could not be run on your own measurements ({e.why}): fix measurements first."),
    Misconception("chosen_inconsistent", lambda e: e.inconsistent,
                  "chosen is not the best model within the budget according to your own measurements and quality "
                  "({e.why})."),
    Misconception("wrong_choice", None,
                  "Your chooser does not return the best model that meets the budget on some of the tables tried."),
    passed="Your chooser picks the best model whose single-request p99 is within the budget, and None when none "
           "is{e.own_note}.",
)


@check("model choice", stub_hint="implement `choose_model(measurements, budget_ms, quality)` and set `chosen`",
       ladder=CHOOSER)
def chooser_function(name: str, choose_model: Callable, measurements=NOT_GIVEN, quality=None, chosen=None, *,
                     seed: int = 0, budget_ms: float = case.MODEL_BUDGET_MS) -> CheckResult:
    """Call ``choose_model`` on :func:`chooser_tables` and name the wrong chooser it behaves like; then, with the
    learner's ``measurements`` and ``quality``, check that ``chosen`` is what the right rule gives on them (and what
    the learner's own chooser gives).

    A mistake is recognised when the learner's answers equal that wrong chooser's on every table (the tables are
    built so that every wrong chooser differs from the right one and from each other somewhere); a chooser right
    everywhere but on the table where nothing fits returns a model it should not. Never compared with any absolute
    time.
    """
    tables = chooser_tables(seed)
    got, raw = {}, {}
    e = Evidence(not_name=False, same_everywhere=False, foreign=False, none_missed=False, unusable=False,
                 inconsistent=False, got="", why="", own_note="")
    for key, (frame, budget, qual) in tables.items():
        value = choose_model(frame.copy(), budget, dict(qual))
        if not (value is None or value is False or isinstance(value, str | np.str_)):
            e.not_name, e.got = True, f"a {type(value).__name__}"
            return CHOOSER.judge(name, e)
        raw[key] = got[key] = _norm_choice(value)
    want = {k: reference_choose(*tables[k]) for k in tables}
    wrong = {k: {b: fn(*tables[k]) for b, fn in WRONG_CHOOSERS.items()} for k in tables}
    bad = [k for k in tables if got[k] != want[k]]
    e.same_everywhere = len(set(got.values())) == 1 and None not in got.values() and len(bad) > 1
    e.foreign = any(v is not None and v not in set(tables[k][0]["model"]) for k, v in got.items())

    def like(bug: str) -> bool:  # the same answer as that wrong chooser on every table
        return all(got[k] == wrong[k][bug] for k in tables)

    e.like, e.none_missed = like, bad == ["none_fits"]
    if not bad and measurements is not NOT_GIVEN:
        try:
            if not isinstance(measurements, pd.DataFrame):
                raise TypeError("measurements is not a DataFrame")
            right = reference_choose(measurements, budget_ms, dict(quality))
        except Exception as exc:  # noqa: BLE001 - the learner's table is the problem
            e.unusable = True
            e.why = "it is still None" if measurements is None else f"{type(exc).__name__} reading it"
        else:
            theirs = _norm_choice(choose_model(measurements.copy(), budget_ms, dict(quality)))
            if _norm_choice(chosen) != theirs:
                e.inconsistent, e.why = True, "it is not what your own choose_model returns on them"
            elif _norm_choice(chosen) != right:
                e.inconsistent, e.why = True, "check which rows and which column your chooser reads"
        e.own_note = ", on tables it has not seen and on your own measurements"
    e.correct = not bad and not e.unusable and not e.inconsistent
    return CHOOSER.judge(name, e)


# ---------------------------------------------------------------- which stage eats the p99


def tail_logs(seed: int) -> list[tuple[pd.DataFrame, list[str], float]]:
    """(log, stage columns, q) per hidden log: other stage names than the notebook's, one with four stages, one at
    q = 95 where a function fixed at 99 gives another answer."""
    rng = np.random.default_rng(seed)
    s = [int(v) for v in rng.integers(0, 2**31, 3)]
    scenarios = [
        ((Stage("auth", 2.0, 0.3), Stage("lookup", 5.0, 0.3, 0.007, (40.0, 80.0)),
          Stage("inference", 12.0, 0.3, 0.003, (5.0, 10.0)), Stage("render", 1.0, 0.2)), 99.0),
        ((Stage("features", 8.0, 0.25), Stage("scoring", 6.0, 0.6), Stage("ranking", 2.0, 0.3, 0.004, (15.0, 25.0))),
         95.0),
        ((Stage("read", 3.0, 0.5, 0.02, (5.0, 15.0)), Stage("predict", 7.0, 0.2), Stage("write", 4.0, 0.4)), 99.0),
    ]
    out = []
    for (stages, q), sd in zip(scenarios, s, strict=True):
        out.append((stage_frame(20_000, stages, sd), [st.column for st in stages], q))
    return out


def _tail_variants(log: pd.DataFrame, stages: list[str], q: float) -> dict[str, list[dict]]:
    total = log[stages].sum(axis=1).to_numpy()
    x = {c: log[c].to_numpy(float) for c in stages}
    n = len(total)

    def means(mask) -> dict:
        return {c: float(v[mask].mean()) if mask.any() else float("nan") for c, v in x.items()}

    accepted = []
    for m in ACCEPTED_METHODS:
        t = float(np.percentile(total, q, method=m))
        accepted += [means(total >= t), means(total > t)]
    order = np.argsort(-total, kind="stable")
    for k in {math.floor(n * (100 - q) / 100), math.ceil(n * (100 - q) / 100)}:
        if k > 0:
            mask = np.zeros(n, bool)
            mask[order[:k]] = True
            accepted.append(means(mask))
    t99 = float(np.percentile(total, q))
    own_tail = {c: float(v[v >= np.percentile(v, q)].mean()) for c, v in x.items()}
    return {
        "accepted": accepted,
        "overall_mean": [{c: float(v.mean()) for c, v in x.items()}],
        "own_percentile": [{c: float(np.percentile(v, q, method=m)) for c, v in x.items()} for m in ACCEPTED_METHODS],
        "own_tail": [own_tail],
        "below": [means(total < t99), means(total <= t99)],
        "at_99": [means(total >= float(np.percentile(total, 99)))],
    }


def _close_breakdown(got: dict, want: dict) -> bool:
    """A stage's tail mean moves by about 1 % when one request enters or leaves a tail of ~200 requests; the
    accepted definitions differ by at most one request, so 1 % + 0.01 ms holds them all."""
    return all(c in got and np.isfinite(got[c]) and abs(got[c] - w) <= 0.01 * abs(w) + 0.01 for c, w in want.items())


def _as_breakdown(value, stages) -> dict | None:
    if isinstance(value, pd.Series):
        value = value.to_dict()
    if not isinstance(value, Mapping) or set(map(str, value)) != set(stages):
        return None
    try:
        return {str(k): float(v) for k, v in value.items()}
    except (TypeError, ValueError):
        return None


TAIL_FUNCTION = Ladder(
    Misconception("not_a_breakdown", lambda e: e.not_breakdown,
                  "tail_breakdown must return a dict (or Series) with one number per stage column it is given, and "
                  "no other key; yours returned {e.got}."),
    Misconception("shares_not_ms", lambda e: e.shares,
                  "Your breakdown gives each stage's share of the slow requests' time; the text asks for "
                  "milliseconds, which can be compared with a budget."),
    Misconception("overall_mean", lambda e: e.like("overall_mean"),
                  "Your breakdown is each stage's mean over all requests: it tells which stage is slow on average, "
                  "not which one makes the slowest requests slow."),
    Misconception("own_percentile", lambda e: e.like("own_percentile"),
                  "Your breakdown is each stage's own percentile: percentiles of stages do not add up to the "
                  "request's, and a stage whose slow events are rarer than the percentile hides below it."),
    Misconception("own_tail", lambda e: e.like("own_tail"),
                  "Your breakdown averages each stage over its own slowest requests, which are different requests "
                  "for each stage: select the requests whose total time is in the tail, then average every stage "
                  "over those same requests."),
    Misconception("below_threshold", lambda e: e.like("below"),
                  "Your breakdown averages the requests below the percentile of the total, not those at or above "
                  "it."),
    Misconception("ignores_q", lambda e: e.like("at_99"),
                  "Your breakdown is right at q = 99 but uses 99 whatever q it is given."),
    Misconception("wrong_breakdown", None,
                  "Your breakdown is not the mean time of each stage over the requests at or above the q-th "
                  "percentile of the total, on {e.what}."),
    passed="Your breakdown averages every stage over the same slow requests: those whose total is at or above the "
           "q-th percentile.",
)


@check("tail breakdown", stub_hint="implement `tail_breakdown(log, stages, q=99)`", ladder=TAIL_FUNCTION)
def tail_function(name: str, tail_breakdown: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``tail_breakdown(log, stages, q=q)`` on :func:`tail_logs` and compare with the mean of each stage over
    the requests whose total is at or above the q-th percentile (either convention, ``>=`` or ``>``, or the top
    ``n (100 - q) / 100`` requests)."""
    logs = tail_logs(seed)
    got = []
    for log, stages, q in logs:
        value = tail_breakdown(log.copy(), list(stages), q=q)
        breakdown = _as_breakdown(value, stages)
        if breakdown is None:
            return TAIL_FUNCTION.fail(name, "not_a_breakdown", Evidence(got=f"a {type(value).__name__} "
                                      "without exactly the stage columns as keys"))
        got.append(breakdown)
    variants = [_tail_variants(*log) for log in logs]
    wrong = [i for i, (g, v) in enumerate(zip(got, variants, strict=True))
             if not any(_close_breakdown(g, a) for a in v["accepted"])]

    def like(kind: str) -> bool:
        return bool(wrong) and all(any(_close_breakdown(got[i], a) for a in variants[i][kind]) for i in wrong)

    shares = bool(wrong) and all(abs(sum(g.values()) - 1) < 1e-6 or abs(sum(g.values()) - 100) < 1e-4
                                 for g in got)
    e = Evidence(not_breakdown=False, shares=shares, like=like, correct=not wrong,
                 what="a log with stages and a q you have not seen" if wrong else "")
    return TAIL_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- fan-out


def fanout_cases(seed: int) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    exact = [(int(rng.integers(120, 300)), float(rng.uniform(0.01, 0.03))),  # n * p above 1
             (int(rng.integers(20, 60)), float(rng.uniform(0.002, 0.01))),
             (1, float(rng.uniform(0.02, 0.2))), (int(rng.integers(3, 8)), float(rng.uniform(0.2, 0.4)))]
    simulate = [(int(rng.integers(40, 70)), float(rng.uniform(0.008, 0.012)), 3_000, int(rng.integers(2**31))),
                (int(rng.integers(8, 14)), float(rng.uniform(0.04, 0.06)), 3_000, int(rng.integers(2**31)))]
    return {"exact": exact, "simulate": simulate}


def p_request_slow(n_calls: int, p_slow: float) -> float:
    """P(at least one of n independent calls is slow)."""
    return float(1 - (1 - p_slow) ** n_calls)


FANOUT_FUNCTION = Ladder(
    Misconception("union_bound", lambda e: e.formula_like("union"),
                  "Your fanout_slow_probability adds the calls' probabilities (n times p): that is an upper bound "
                  "that passes 1 for large fan-outs, not the probability that at least one call is slow."),
    Misconception("all_slow", lambda e: e.formula_like("all_slow"),
                  "Your fanout_slow_probability is the probability that every call is slow; the request is slow as "
                  "soon as one call is."),
    Misconception("all_fast", lambda e: e.formula_like("all_fast"),
                  "Your fanout_slow_probability is the probability that every call is fast: the request is slow in "
                  "the complementary case."),
    Misconception("wrong_formula", lambda e: e.formula_wrong,
                  "Your fanout_slow_probability is not the probability that at least one of n independent calls "
                  "is slow, for {e.what}."),
    Misconception("not_estimate_and_se", lambda e: e.bad_sim,
                  "simulate_fanout must return two numbers, (estimate, standard_error); yours returned {e.got}."),
    Misconception("counts_slow_calls", lambda e: e.counts_calls,
                  "Your simulation estimates the share of slow calls, not the share of requests with at least one "
                  "slow call: a request waits for all its calls."),
    Misconception("biased_simulation", lambda e: e.biased,
                  "Your simulated probability is far from the exact one, more than its Monte Carlo error allows: "
                  "simulate n_requests requests of n_calls calls each, with the probability and the seed you are "
                  "given."),
    Misconception("se_too_small", lambda e: e.se_small,
                  "Your standard error is far too small: the independent units are the simulated requests, so "
                  "divide by the square root of n_requests, not of every call made."),
    Misconception("se_not_divided", lambda e: e.se_large,
                  "Your standard error is the spread of one request's outcome, not of the estimate: divide it by "
                  "the square root of the number of simulated requests."),
    Misconception("se_wrong", lambda e: e.se_off,
                  "Your standard error is not the binomial standard error of a simulated proportion."),
    passed="Your exact probability and your simulation agree, and the simulation states its Monte Carlo error.",
)


@check("fan-out", stub_hint="implement `fanout_slow_probability(n_calls, p_slow)` and "
       "`simulate_fanout(n_calls, p_slow, n_requests, seed)`", ladder=FANOUT_FUNCTION)
def fanout_function(name: str, fanout_slow_probability: Callable, simulate_fanout=NOT_GIVEN, *,
                    seed: int = 0) -> CheckResult:
    """The exact probability on :func:`fanout_cases` (relative 1e-9), then the simulation: the estimate within
    4.5 exact standard errors of the exact probability (a correct simulation fails about 1 in 150,000 times), the
    stated standard error within 20 % of the exact one (at 3,000 requests the estimated SE is within 3 % of it)."""
    cases = fanout_cases(seed)
    got = [float(fanout_slow_probability(n, p)) for n, p in cases["exact"]]
    bugs = {"union": lambda n, p: [n * p, min(1.0, n * p)], "all_slow": lambda n, p: [p**n],
            "all_fast": lambda n, p: [(1 - p) ** n]}
    wrong = [i for i, (g, (n, p)) in enumerate(zip(got, cases["exact"], strict=True))
             if not _same(g, p_request_slow(n, p))]

    def formula_like(kind: str) -> bool:
        return bool(wrong) and all(_any_same(got[i], bugs[kind](*cases["exact"][i])) for i in wrong)

    e = Evidence(formula_like=formula_like, formula_wrong=bool(wrong), bad_sim=False, counts_calls=False,
                 biased=False, se_small=False, se_large=False, se_off=False, got="",
                 what="some of the fan-outs tried")
    if wrong or simulate_fanout is NOT_GIVEN:
        return FANOUT_FUNCTION.judge(name, e)
    if is_stub(simulate_fanout):
        return not_attempted(name, "Not attempted yet: implement `simulate_fanout(n_calls, p_slow, n_requests, seed)`.")
    for n, p, n_req, sd in cases["simulate"]:
        value = simulate_fanout(n, p, n_req, sd)
        try:
            est, se = (float(v) for v in value)
        except (TypeError, ValueError):
            e.bad_sim, e.got = True, f"a {type(value).__name__}"
            break
        if not (np.isfinite(est) and np.isfinite(se)):
            e.bad_sim, e.got = True, "nan or inf"
            break
        exact = p_request_slow(n, p)
        se_true = math.sqrt(exact * (1 - exact) / n_req)
        if abs(est - exact) > 4.5 * se_true:
            se_calls = math.sqrt(p * (1 - p) / (n_req * n))
            e.counts_calls = e.counts_calls or abs(est - p) <= 4.5 * se_calls + 1e-9
            e.biased = True
        elif se < 0.5 * se_true:
            e.se_small = True
        elif se > 3 * se_true:
            e.se_large = True
        elif not 0.8 * se_true <= se <= 1.25 * se_true:
            e.se_off = True
    return FANOUT_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- canary rollback

N_WINDOWS = 30
MAX_DELAY = 4            # a regression must be rolled back at its onset window or within 4 windows after it
MAX_FALSE_SHARE = 0.10   # of good canaries (and of regressed ones before their onset) rolled back
MIN_DETECTED = 0.85      # of regressed canaries rolled back in time, per kind of regression
NO_NOISE_SHARE = 0.80    # rolling back this share of good canaries means the rule has no noise model at all


@shared(maxsize=4)
def canary_streams(seed: int) -> tuple:
    """Good canaries (other traffic shares, error rates and p99s), error regressions and latency regressions, half
    of them from the first window and half from a later one (a regression that appears under load or after a cache
    fills must be caught there too)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(48):
        out.append(make_canary_stream(N_WINDOWS, canary_share=(0.02, 0.05, 0.10)[i % 3],
                                      error_rate=float(rng.uniform(0.01, 0.04)), p99_ms=float(rng.uniform(25, 80)),
                                      trend=float(rng.uniform(0.2, 0.4)), random_state=int(rng.integers(2**31))))
    for kind in ("errors", "latency"):
        for i in range(16):
            onset = 0 if i % 2 == 0 else int(rng.integers(8, 20))
            lift = {"error_lift": float(rng.uniform(1.8, 2.5))} if kind == "errors" else \
                {"latency_lift": float(rng.uniform(1.4, 1.8))}
            out.append(make_canary_stream(N_WINDOWS, canary_share=(0.05, 0.10)[(i // 2) % 2],
                                          error_rate=float(rng.uniform(0.01, 0.04)),
                                          p99_ms=float(rng.uniform(25, 80)), trend=float(rng.uniform(0.2, 0.4)),
                                          onset=onset, random_state=int(rng.integers(2**31)), **lift))
    return tuple(out)


def _as_window(value, windows) -> tuple[bool, int | None]:
    """(valid, window): None or False mean no rollback; anything else must be one of the stream's windows."""
    if value is None or value is False:
        return True, None
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float | np.floating):
        return False, None
    if isinstance(value, float | np.floating) and (not np.isfinite(value) or value != int(value)):
        return False, None
    w = int(value)
    return w in windows, w


ROLLBACK_FUNCTION = Ladder(
    Misconception("not_a_window", lambda e: e.not_window,
                  "rollback must return the window at which to roll back (a value of the window column) or None; "
                  "yours returned {e.got}."),
    Misconception("uses_future", lambda e: e.future,
                  "Your rule's answer changes when the windows after its rollback are taken away: it decides with "
                  "windows that had not happened yet at that moment."),
    Misconception("never_rolls_back", lambda e: e.never,
                  "Your rule never rolled back, not even canaries whose error rate doubled or whose p99 rose by "
                  "half."),
    Misconception("no_noise_model", lambda e: e.false_share >= NO_NOISE_SHARE,
                  "Your rule rolled back most canaries that were exactly as good as the baseline: a canary serves a "
                  "few percent of the traffic, so its error rate and p99 jump from window to window; a raw "
                  "comparison of the two arms mistakes that noise for a regression."),
    Misconception("too_many_false_rollbacks", lambda e: e.false_share > MAX_FALSE_SHARE,
                  "Your rule rolled back too many canaries that were as good as the baseline: it looks at every "
                  "window, so a threshold that is crossed by chance now and then is crossed in many streams; "
                  "demand a larger gap or a few windows in a row."),
    Misconception("ignores_latency", lambda e: e.detected["errors"] >= MIN_DETECTED and e.late["latency"] < 0.5,
                  "Your rule catches error regressions but not a canary whose p99 rose by half: latency is part of "
                  "the canary's gate."),
    Misconception("ignores_errors", lambda e: e.detected["latency"] >= MIN_DETECTED and e.late["errors"] < 0.5,
                  "Your rule catches latency regressions but not a canary whose error rate doubled."),
    Misconception("too_slow", lambda e: min(e.detected.values()) < MIN_DETECTED <= e.eventually,
                  "Your rule rolls back regressed canaries, but too many windows after the regression starts: "
                  "pooling everything since the start dilutes a regression that begins mid-canary, and demanding far "
                  "more evidence than the noise calls for waits too long; judge the recent windows."),
    Misconception("misses_regressions", None,
                  "Your rule misses too many canaries that really regressed."),
    passed="Your rule rolls back real regressions of errors or latency within a few windows and leaves good canaries "
           "alone.",
)


@check("rollback rule", stub_hint="implement `rollback(canary, baseline)`", ladder=ROLLBACK_FUNCTION)
def rollback_function(name: str, rollback: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``rollback(canary, baseline)`` once per stream of :func:`canary_streams`.

    Good canaries: at most ``MAX_FALSE_SHARE`` may be rolled back (a rule built for a 1 % false-rollback rate per
    stream stays far below; one window's 5 % test looked at in 30 windows rolls back about half). Regressions
    (error rate x1.8-2.5, or p99 x1.4-1.8): at least ``MIN_DETECTED`` of each kind rolled back between the onset and
    ``MAX_DELAY`` windows after it; a rollback before the onset counts as a false one. Up to eight rollbacks are re-asked
    with the stream cut at the returned window: a rule that only uses the past gives the same window.
    """
    streams = canary_streams(seed)
    e = Evidence(not_window=False, future=False, never=False, false_share=0.0, detected={}, late={}, eventually=0.0,
                 got="")
    answers = []
    for s in streams:
        value = rollback(s.canary.copy(), s.baseline.copy())
        valid, w = _as_window(value, set(s.canary["window"]))
        if not valid:
            e.not_window = True
            e.got = "a window the stream does not have" if isinstance(value, int | float | np.number) \
                and not isinstance(value, bool) else f"a {type(value).__name__}"
            return ROLLBACK_FUNCTION.judge(name, e)
        answers.append(w)
    rolled = [(s, w) for s, w in zip(streams, answers, strict=True) if w is not None]
    for s, w in rolled[:: max(1, len(rolled) // 8)][:8]:
        keep = s.canary["window"] <= w
        again = rollback(s.canary[keep].copy(), s.baseline[s.baseline["window"] <= w].copy())
        valid, w2 = _as_window(again, set(s.canary.loc[keep, "window"]))
        if not valid or w2 != w:
            e.future = True
            return ROLLBACK_FUNCTION.judge(name, e)
    e.never = not rolled
    false, goods = 0, 0
    hits = {"errors": [], "latency": []}
    seen = {"errors": [], "latency": []}
    for s, w in zip(streams, answers, strict=True):
        t = s.truth
        if not t.regression:
            goods += 1
            false += w is not None
            continue
        if t.onset > 0:  # a rollback before the onset rolled back a canary that was still good
            goods += 1
            false += w is not None and w < t.onset
        kind = "errors" if t.error_lift > 1 else "latency"
        hits[kind].append(w is not None and t.onset <= w <= t.onset + MAX_DELAY)
        seen[kind].append(w is not None and w >= t.onset)
    e.false_share = false / goods
    e.detected = {k: float(np.mean(v)) for k, v in hits.items()}
    e.late = {k: float(np.mean(v)) for k, v in seen.items()}  # rolled back at some point after the onset
    e.eventually = float(np.mean(seen["errors"] + seen["latency"]))
    e.correct = all(v >= MIN_DETECTED for v in e.detected.values())
    return ROLLBACK_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- decision

DECISION_CHOICES = {
    "latency_statistic": {"p99"},
    "first_fix": {"feature_fetch", "feature_fetch_ms"},
    "fanout_fix": {"hedged_requests", "smaller_fanout"},
    "shadow_gate": {"agreement_and_latency"},
    "canary_gate": {"errors_and_latency"},
    "ab_gate": {"business_metric"},
}
_DECISION_MISTAKES = {
    ("latency_statistic", "mean"): "the mean of a skewed latency is pulled up and down by a few requests and hides "
                                   "the slow ones that users notice and the product's requirement counts",
    ("latency_statistic", "p50"): "half of all requests are slower than the median; the requirement is about the "
                                  "slowest one in a hundred",
    ("first_fix", "model"): "the model is the slowest stage on average, but the requests in the tail are slow "
                            "because of another stage",
    ("first_fix", "postprocess"): "post-processing is small and steady in every request",
    ("fanout_fix", "faster_average_call"): "a faster typical call leaves the rare slow calls as they are, and the "
                                           "request waits for the slowest of its calls",
    ("fanout_fix", "longer_timeout"): "a longer timeout makes the slow requests wait longer; it fixes nothing",
    ("shadow_gate", "business_metric"): "a shadow's answers are never shown to a user, so there is no user "
                                        "outcome to measure",
    ("shadow_gate", "offline_auc"): "the offline metric was settled before the shadow; the shadow is there to see "
                                    "the model on live traffic",
    ("canary_gate", "business_metric"): "a few percent of the traffic for an hour has no power to see a change in "
                                        "conversion or revenue; the canary is there to catch breakage fast",
    ("canary_gate", "offline_auc"): "the offline metric cannot see what breaks in production",
    ("ab_gate", "errors_and_latency"): "those were gated by the canary (and keep guarding the test); the A/B test "
                                       "exists to measure the outcome the model is for",
    ("ab_gate", "offline_auc"): "an offline metric was the reason to try the model, not proof that it helps users",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Budgets on the tail, the slow stage fixed first, the fan-out tamed, and a rollout whose "
                           "every step is gated by what it can measure.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, normalise_choice)
