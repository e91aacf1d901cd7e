"""checks.pipelines: every planted mistake yields its misconception id, every correct approach passes on many seeds.

Also reproduces the figures feature_pipelines' narrative states (the naive join's scores, the honest holdout, the
effect of counting events at the label time, the skew's share and effect, staleness and costs).
"""

from __future__ import annotations

import os
import tempfile

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcasebook.cases import pipelines as case
from mlcasebook.checks import pipelines
from mlcasebook.checks.result import ERROR, NOT_ATTEMPTED, PASSED
from planted import expect_misconception

FEATURES, ATTRIBUTES = case.FEATURES, case.ATTRIBUTES
COUNTS = {"logins_30d": ("login", 30), "failed_payments_90d": ("payment_failed", 90),
          "cancel_visits_30d": ("cancel_page_visit", 30)}
SEEDS = range(20)

# ---------------------------------------------------------------- learner-style features_as_of


def asof_features(events, labels, exact=False, restore=True):
    """The notebook's answer: merge_asof on running counts (exact=True: <= at the label time)."""
    rows = labels[["customer_id", "label_time"]].reset_index(drop=True)
    rows["row"] = np.arange(len(rows))

    def running(kind):
        e = events[events["event_type"] == kind].sort_values("timestamp")
        return e.assign(n=e.groupby("customer_id").cumcount() + 1, total=e.groupby("customer_id")["amount"].cumsum())

    def at(e, times, columns):
        left = rows.assign(t=times.to_numpy()).sort_values("t")
        right = e[["customer_id", "timestamp", *columns]].rename(columns={"timestamp": "t"})
        found = pd.merge_asof(left, right, on="t", by="customer_id", allow_exact_matches=exact)
        return (found.sort_values("row") if restore else found)[columns].reset_index(drop=True)

    t = rows["label_time"]
    out = pd.DataFrame(index=rows.index)
    for name, (kind, days) in COUNTS.items():
        e = running(kind)
        out[name] = (at(e, t, ["n"])["n"].fillna(0) - at(e, t - pd.Timedelta(days=days), ["n"])["n"].fillna(0))
    e = running("payment")
    now, before = at(e, t, ["n", "total"]).fillna(0), at(e, t - pd.Timedelta(days=90), ["n", "total"]).fillna(0)
    n = now["n"] - before["n"]
    out["avg_payment_90d"] = (now["total"] - before["total"]) / n.where(n > 0)
    tickets = running("support_ticket")
    last = at(tickets.assign(last=tickets["timestamp"]), t, ["last"])["last"]
    when = t if restore else rows.assign(s=t).sort_values("s")["label_time"].reset_index(drop=True)
    out["days_since_ticket"] = (when - last) / pd.Timedelta(days=1)
    out.index = labels.index if restore else out.index
    return out[FEATURES]


def filter_features(events, labels, upper="lt", lower="ge", ignore_time=False, no_upper=False, inner=False,
                    fill=False, nan_counts=False, hours=False):
    """Correct but unusual (with the defaults): a merge of every label with its customer's events, a filter and a
    groupby; the keywords plant the known mistakes."""
    q = labels[["customer_id", "label_time"]].reset_index(drop=True).rename_axis("row").reset_index()
    m = q.merge(events, on="customer_id", how="inner" if inner else "left")
    if ignore_time:
        m["label_time"] = events["timestamp"].max() + pd.Timedelta(seconds=1)
    before = (m["timestamp"] <= m["label_time"]) if upper == "le" else (m["timestamp"] < m["label_time"])
    if no_upper:
        before = m["timestamp"].notna()
    age = m["label_time"] - m["timestamp"]
    index = pd.Index(m["row"].unique()) if inner else q["row"]
    out = pd.DataFrame(index=index)
    for name, (kind, days) in [*COUNTS.items(), ("avg_payment_90d", ("payment", 90))]:
        inside = (age <= pd.Timedelta(days=days)) if lower == "ge" else (age < pd.Timedelta(days=days))
        chosen = m[before & inside & (m["event_type"] == kind)]
        if name == "avg_payment_90d":
            out[name] = chosen.groupby("row")["amount"].mean().reindex(index)
        else:
            out[name] = chosen.groupby("row").size().reindex(index, fill_value=np.nan if nan_counts else 0).astype(float)
    t = m[before & (m["event_type"] == "support_ticket")]
    gap = t.groupby("row")["label_time"].first() - t.groupby("row")["timestamp"].max()
    out["days_since_ticket"] = gap.dt.total_seconds().reindex(index) / (3600 if hours else 86_400)
    if fill:
        out["days_since_ticket"] = out["days_since_ticket"].fillna(999)
        out["avg_payment_90d"] = out["avg_payment_90d"].fillna(0)
    out = out[FEATURES].reset_index(drop=True)
    if not inner:
        out.index = labels.index
    return out


def unsorted_running_counts(events, labels):
    """Running logins numbered in the log's order without sorting it first: right only on a time-ordered log."""
    out = asof_features(events, labels)
    rows = labels[["customer_id", "label_time"]].reset_index(drop=True).assign(row=np.arange(len(labels)))
    e = events[events["event_type"] == "login"]
    e = e.assign(n=e.groupby("customer_id").cumcount() + 1)

    def at(times):
        left = rows.assign(t=times.to_numpy()).sort_values("t")
        right = e[["customer_id", "timestamp", "n"]].rename(columns={"timestamp": "t"}).sort_values("t")
        found = pd.merge_asof(left, right, on="t", by="customer_id", allow_exact_matches=False)
        return found.sort_values("row")["n"].fillna(0).to_numpy()

    out["logins_30d"] = at(rows["label_time"]) - at(rows["label_time"] - pd.Timedelta(days=30))
    return out


def a_series(events, labels):
    return asof_features(events, labels)["logins_30d"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_features_as_of_passes(seed):
    assert pipelines.features_function(asof_features, seed=seed).status == PASSED


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a_merge_and_a_filter_passes_too(seed):
    assert pipelines.features_function(filter_features, seed=seed).status == PASSED


def test_features_mistakes_are_named():
    f = pipelines.features_function
    assert f(asof_features).status == PASSED and f(filter_features).status == PASSED
    expect_misconception(f(a_series), "missing_columns")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, inner=True)), "wrong_row_count")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, ignore_time=True)), "naive_all_events")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, no_upper=True)), "future_events")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, upper="le")), "includes_label_time")
    expect_misconception(f(lambda e, lab: asof_features(e, lab, exact=True)), "includes_label_time")
    expect_misconception(f(lambda e, lab: asof_features(e, lab, restore=False)), "rows_misaligned")
    expect_misconception(f(unsorted_running_counts), "assumes_sorted_input")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, nan_counts=True)), "counts_missing")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, fill=True)), "missing_filled")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, lower="gt")), "window_start")
    expect_misconception(f(lambda e, lab: filter_features(e, lab, hours=True)), "wrong_values")


def test_features_stub_and_a_crash():
    assert pipelines.features_function(None).status == NOT_ATTEMPTED

    def stub(events, labels):
        raise NotImplementedError()

    def broken(events, labels):
        raise KeyError("timestamp_utc")

    assert pipelines.features_function(stub).status == NOT_ATTEMPTED
    result = pipelines.features_function(broken)
    assert result.status == ERROR and "KeyError" in result.message


def test_the_edge_cases_separate_the_boundaries():
    """At least one label row where each variant differs from the reference, in each hidden case family."""
    events, labels = pipelines.feature_cases(0)["edges"]
    v = pipelines._variants(events, labels)
    for name in ("le", "le_gt", "gt", "future", "naive"):
        assert not all(pipelines._same(v[name][f], v["reference"][f]) for f in FEATURES), name
    # the customer without events: counts 0, recency and average missing
    ref = v["reference"]
    assert (ref[list(COUNTS)] == 0).all(axis=1).any() and ref["days_since_ticket"].isna().any()


# ---------------------------------------------------------------- time_split


def split_customers(labels, cutoff, horizon, test_share=0.4, seed=0):
    customers = np.sort(labels["customer_id"].unique())
    held = np.random.default_rng(seed).random(len(customers)) < test_share
    in_test = labels["customer_id"].isin(customers[held]).to_numpy()
    return (~in_test & (labels["label_time"] + horizon <= cutoff).to_numpy(),
            in_test & (labels["label_time"] >= cutoff).to_numpy())


def split_group_shuffle(labels, cutoff, horizon, seed=1):
    """Correct but unusual: GroupShuffleSplit for the customers, pandas Series masks, strict comparisons."""
    _, held = next(GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=seed).split(
        labels, groups=labels["customer_id"]))
    side = pd.Series("train", index=labels.index)
    side.iloc[held] = "test"
    return (side == "train") & (labels["label_time"] < cutoff - horizon), (side == "test") & (labels["label_time"] > cutoff)


def _held(labels, share=0.4):
    customers = np.sort(labels["customer_id"].unique())
    return labels["customer_id"].isin(customers[np.random.default_rng(0).random(len(customers)) < share]).to_numpy()


def split_random_rows(labels, cutoff, horizon):
    train_rows, _ = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=0)
    train = np.zeros(len(labels), bool)
    train[train_rows] = True
    return train, ~train


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_split_passes(seed):
    assert pipelines.split_function(split_customers, seed=seed).status == PASSED
    assert pipelines.split_function(lambda *a: split_group_shuffle(*a, seed=seed), seed=seed).status == PASSED


def test_split_mistakes_are_named():
    f = pipelines.split_function
    assert f(split_customers).status == PASSED and f(split_group_shuffle).status == PASSED
    nullable = lambda lab, c, h: tuple(pd.Series(m, index=lab.index, dtype="boolean")  # noqa: E731
                                       for m in split_customers(lab, c, h))
    assert f(nullable).status == PASSED
    t = lambda lab: lab["label_time"]  # noqa: E731
    expect_misconception(f(lambda lab, c, h: (lab.index[split_customers(lab, c, h)[0]],
                                              lab.index[split_customers(lab, c, h)[1]])), "not_masks")
    expect_misconception(f(lambda lab, c, h: ((t(lab) < c).to_numpy(), np.ones(len(lab), bool))), "rows_in_both")
    expect_misconception(f(split_random_rows), "random_split")
    expect_misconception(f(lambda lab, c, h: (~_held(lab), _held(lab))), "random_split")
    expect_misconception(f(lambda lab, c, h: ((t(lab) + h <= c).to_numpy(), (t(lab) >= c).to_numpy())),
                         "customers_overlap")
    expect_misconception(f(lambda lab, c, h: (~_held(lab), _held(lab) & (t(lab) >= c).to_numpy())), "train_after_cutoff")
    expect_misconception(f(lambda lab, c, h: (~_held(lab) & (t(lab) + h <= c).to_numpy(), _held(lab))),
                         "test_before_cutoff")
    expect_misconception(f(lambda lab, c, h: (~_held(lab) & (t(lab) < c).to_numpy(), _held(lab) & (t(lab) >= c).to_numpy())),
                         "label_window_overlap")
    expect_misconception(f(lambda lab, c, h: split_customers(lab, c, h, test_share=0.03)), "too_small")


def test_split_stub():
    assert pipelines.split_function(None).status == NOT_ATTEMPTED


# ---------------------------------------------------------------- leak scores


def make_model():
    return make_pipeline(make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), FEATURES),
        (OneHotEncoder(handle_unknown="ignore"), ATTRIBUTES)), LogisticRegression(max_iter=1_000))


@pytest.fixture(scope="module")
def case_fit():
    """The notebook's leak section: the scores, the fitted pipeline and the rows."""
    data = pipelines.case_data()
    labels, y = data.labels, data.labels["churned"].to_numpy()
    X_asof, X_naive = pipelines.case_rows()["asof"], pipelines.case_rows()["naive"]   # features tested above
    train, test = split_customers(labels, case.CUTOFF, case.HORIZON)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y)

    def auc(model, a, b, c, d):
        return roc_auc_score(d, model.fit(a, b).predict_proba(c)[:, 1])

    pipeline = make_model()
    scores = {"naive_offline": auc(clone(pipeline), X_naive.iloc[tr], y[tr], X_naive.iloc[te], y[te]),
              "naive_holdout": auc(clone(pipeline), X_naive[train], y[train], X_asof[test], y[test]),
              "honest_holdout": auc(pipeline, X_asof[train], y[train], X_asof[test], y[test])}
    extra = {"naive_on_naive": auc(clone(pipeline), X_naive[train], y[train], X_naive[test], y[test]),
             "asof_random": auc(clone(pipeline), X_asof.iloc[tr], y[tr], X_asof.iloc[te], y[te])}
    return {"scores": scores, "extra": extra, "pipeline": pipeline, "X_asof": X_asof, "X_naive": X_naive, "y": y,
            "train": train, "test": test, "data": data}


def test_leak_reference_passes_and_mistakes_are_named(case_fit):
    s, p, x = case_fit["scores"], case_fit["pipeline"], case_fit["extra"]
    assert pipelines.leak(s, p, split_customers).status == PASSED
    assert pipelines.leak({k: None for k in s}, p, split_customers).status == NOT_ATTEMPTED
    expect_misconception(pipelines.leak([0.95, 0.4, 0.8], p, split_customers), "not_a_dict")
    expect_misconception(pipelines.leak(s, "LogisticRegression()", split_customers), "not_an_estimator")
    expect_misconception(pipelines.leak(s, make_model(), split_customers), "pipeline_not_fitted")
    expect_misconception(pipelines.leak({**s, "naive_holdout": x["naive_on_naive"]}, p, split_customers),
                         "holdout_with_naive_features")
    expect_misconception(pipelines.leak({**s, "naive_offline": x["asof_random"]}, p, split_customers),
                         "offline_with_asof_features")
    on_all = clone(p).fit(case_fit["X_asof"], case_fit["y"])
    expect_misconception(pipelines.leak(s, on_all, split_customers), "pipeline_fitted_elsewhere")
    on_naive = clone(p).fit(case_fit["X_naive"][case_fit["train"]], case_fit["y"][case_fit["train"]])
    expect_misconception(pipelines.leak(s, on_naive, split_customers), "pipeline_fitted_elsewhere")
    expect_misconception(pipelines.leak({**s, "honest_holdout": s["honest_holdout"] + 0.05}, p, split_customers),
                         "scores_off")


def test_leak_figures_of_the_narrative(case_fit):
    """0.95 offline, 0.40 on the holdout for the naive join; 0.80 honest, 0.87 on a random split; <= above 0.9."""
    s, x = case_fit["scores"], case_fit["extra"]
    assert s["naive_offline"] == pytest.approx(0.948, abs=0.005)
    assert s["naive_holdout"] == pytest.approx(0.403, abs=0.005) and s["naive_holdout"] < 0.5
    assert s["honest_holdout"] == pytest.approx(0.797, abs=0.005)
    assert x["asof_random"] == pytest.approx(0.868, abs=0.005)
    data, train, test, y = case_fit["data"], case_fit["train"], case_fit["test"], case_fit["y"]
    with_le = pd.concat([pipelines.reference_features(data.events, data.labels, upper="le").reset_index(drop=True),
                         data.labels[ATTRIBUTES].reset_index(drop=True)], axis=1)
    le = roc_auc_score(y[test], make_model().fit(with_le[train], y[train]).predict_proba(with_le[test])[:, 1])
    assert le > 0.9
    # relations turn over in the naive join: an old ticket means churn there, a recent one as of the snapshot; a
    # failed payment means staying there
    def coef(X):
        m = make_model().fit(X[train], y[train])
        return dict(zip([n.split("__")[-1] for n in m[0].get_feature_names_out()], m[-1].coef_[0], strict=True))
    naive, asof = coef(case_fit["X_naive"]), coef(case_fit["X_asof"])
    assert naive["days_since_ticket"] > 0 > asof["days_since_ticket"] and naive["failed_payments_90d"] < 0


# ---------------------------------------------------------------- train/serve skew

KEYS = ["customer_id", "request_time"]


def skew_merge(served, offline, features):
    both = served[KEYS + features].merge(offline[KEYS + features], on=KEYS, suffixes=("_s", "_o"))
    share = {f: 1 - np.isclose(both[f + "_s"], both[f + "_o"], equal_nan=True).mean() for f in features}
    return max(share, key=share.get)


def skew_indexed(served, offline, features):
    """Correct but unusual: set_index/reindex, a relative gap, missing-against-a-value counted by hand."""
    a = served.set_index(KEYS)[features]
    b = offline.set_index(KEYS)[features].reindex(a.index)
    disagree = ((a - b).abs() / (b.abs() + 1) > 1e-4) | (a.isna() != b.isna())
    return disagree.mean().idxmax()


def _share(rule):
    def find_skew(served, offline, features):
        both = served.merge(offline, on=KEYS, suffixes=("", "_o"))
        diff = {f: rule(both[f], both[f + "_o"]) for f in features}
        return max(diff, key=diff.get)
    return find_skew


skew_exact = _share(lambda a, b: ((a != b) & ~(a.isna() & b.isna())).mean())
skew_nan_unequal = _share(lambda a, b: (~np.isclose(a, b)).mean())
skew_mean_abs = _share(lambda a, b: (a - b).abs().mean())
skew_half_day = _share(lambda a, b: 1 - np.isclose(a, b, atol=0.5, equal_nan=True).mean())


def skew_positional(served, offline, features):
    share = {f: 1 - np.isclose(served[f], offline[f], equal_nan=True).mean() for f in features}
    return max(share, key=share.get)


def skew_distributions(served, offline, features):
    diff = {f: abs(served[f].mean() - offline[f].mean()) / (offline[f].std() + 1e-9) for f in features}
    return max(diff, key=diff.get)


def skew_no_money(served, offline, features):
    """Leaves the payments out ("billing checks its own numbers"): misses a skew in avg_payment_90d."""
    return skew_merge(served, offline, [f for f in features if f != "avg_payment_90d"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_find_skew_passes(seed):
    assert pipelines.skew_function(skew_merge, "days_since_ticket", seed=seed).status == PASSED
    assert pipelines.skew_function(skew_indexed, seed=seed).status == PASSED


def test_skew_mistakes_are_named():
    f = pipelines.skew_function
    assert f(skew_merge, "days_since_ticket").status == PASSED and f(skew_indexed).status == PASSED
    expect_misconception(f(lambda s, o, feats: feats), "not_a_feature")
    expect_misconception(f(skew_positional), "rows_misaligned")
    expect_misconception(f(skew_exact), "exact_float_comparison")
    expect_misconception(f(skew_nan_unequal), "nan_never_equal")
    expect_misconception(f(skew_mean_abs), "nans_ignored")
    expect_misconception(f(skew_distributions), "compared_distributions")
    expect_misconception(f(skew_half_day), "tolerance_too_loose")
    expect_misconception(f(skew_no_money), "wrong_feature")
    expect_misconception(f(skew_merge, "logins_30d"), "wrong_case_feature")
    assert f(None).status == NOT_ATTEMPTED


def test_every_hidden_log_has_exactly_its_skew():
    for kind, (served, offline, skewed) in pipelines.skew_cases(0).items():
        offline = served[KEYS].merge(offline, on=KEYS, how="left")
        disagree = {f: 1 - np.isclose(served[f], offline[f], equal_nan=True).mean() for f in FEATURES}
        assert {f for f, v in disagree.items() if v > 0} == {skewed}, kind


def test_skew_figures_of_the_narrative():
    """A fifth of the case's requests have no ticket yet and get 0; nothing else disagrees."""
    data = pipelines.case_data()
    served = data.serving_log
    offline = pipelines.reference_features(data.events, served.rename(columns={"request_time": "label_time"}))
    disagree = {f: 1 - np.isclose(served[f], offline[f], equal_nan=True).mean() for f in FEATURES}
    assert disagree.pop("days_since_ticket") == pytest.approx(0.214, abs=0.002)
    assert max(disagree.values()) == 0
    assert set(served.loc[offline["days_since_ticket"].isna(), "days_since_ticket"]) == {0.0}


# ---------------------------------------------------------------- serving


def make_serve(pipeline, mode="ok"):
    path = os.path.join(tempfile.mkdtemp(), "churn.joblib")
    joblib.dump(pipeline, path)
    loaded = joblib.load(path)

    def serve(rows):
        if mode == "refit":  # a transformer fitted on the request's rows
            return loaded[-1].predict_proba(clone(loaded[:-1]).fit_transform(rows))[:, 1]
        if mode == "rescale":  # standardises the numbers with the request's own statistics, then the fitted model
            X = rows.copy()
            X[FEATURES] = X[FEATURES].fillna(X[FEATURES].median())
            X[FEATURES] = (X[FEATURES] - X[FEATURES].mean()) / X[FEATURES].std(ddof=0).replace(0, 1)
            return loaded[-1].predict_proba(loaded[:-1].transform(X))[:, 1]
        if mode == "fill0":
            return loaded.predict_proba(rows.fillna(0))[:, 1]
        if mode == "predict":
            return loaded.predict(rows)
        if mode == "both_columns":
            return loaded.predict_proba(rows)
        return loaded.predict_proba(rows)[:, 1]
    return serve


def test_serving_reference_passes_and_mistakes_are_named(case_fit):
    p = case_fit["pipeline"]
    f = pipelines.serving_function
    assert f(make_serve(p), p).status == PASSED
    assert f(None, p).status == NOT_ATTEMPTED
    expect_misconception(f(make_serve(p), make_model()), "pipeline_not_fitted")
    expect_misconception(f(make_serve(p, "both_columns"), p), "not_scores")
    expect_misconception(f(make_serve(p, "predict"), p), "labels_not_probabilities")
    expect_misconception(f(make_serve(p, "refit"), p), "refit_at_serving")
    expect_misconception(f(make_serve(p, "rescale"), p), "refit_at_serving")
    expect_misconception(f(make_serve(p, "fill0"), p), "null_fill_at_serving")
    other = clone(p).fit(case_fit["X_asof"], case_fit["y"])
    expect_misconception(f(make_serve(other), p), "different_model")


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_serving_passes_on_many_seeds(case_fit, seed):
    p = case_fit["pipeline"]
    assert pipelines.serving_function(make_serve(p), p, seed=seed).status == PASSED


# ---------------------------------------------------------------- staleness and costs


def stale_merge(requests, events, run_hour, event_type):
    t = requests["request_time"].reset_index(drop=True)
    run = (t - pd.Timedelta(hours=run_hour)).dt.floor("D") + pd.Timedelta(hours=run_hour)
    q = pd.DataFrame({"customer_id": requests["customer_id"].to_numpy(), "t": t, "run": run, "row": np.arange(len(t))})
    m = q.merge(events.loc[events["event_type"] == event_type, ["customer_id", "timestamp"]], on="customer_id")
    missed = m.loc[(m["timestamp"] >= m["run"]) & (m["timestamp"] < m["t"]), "row"].nunique()
    return {"mean_age_hours": ((t - run) / pd.Timedelta(hours=1)).mean(), "stale_share": missed / len(t)}


def stale_asof(requests, events, run_hour, event_type):
    """Correct but unusual: the age from the clock (modulo 24 h), merge_asof for the last event before a request."""
    t = requests["request_time"]
    age = (t.dt.hour + t.dt.minute / 60 + t.dt.second / 3600 - run_hour) % 24
    e = events[events["event_type"] == event_type].sort_values("timestamp")[["customer_id", "timestamp"]]
    q = pd.DataFrame({"customer_id": requests["customer_id"], "request_time": t,
                      "run": t - pd.to_timedelta(age, unit="h")}).sort_values("request_time")
    m = pd.merge_asof(q, e, left_on="request_time", right_on="timestamp", by="customer_id", allow_exact_matches=False)
    return pd.Series({"mean_age_hours": age.mean(), "stale_share": (m["timestamp"] >= m["run"]).mean()})


def _with_age(fn, age):
    def staleness(requests, events, run_hour, event_type):
        out = dict(stale_merge(requests, events, run_hour, event_type))
        out["mean_age_hours"] = age(requests, run_hour, out["mean_age_hours"])
        return out
    return staleness


def _costs():
    c = pipelines.expected_costs()
    return {"batch_per_day": c["batch_per_day"], "online_per_day": c["online_per_day"]}


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_staleness_passes(seed):
    assert pipelines.freshness(stale_merge, _costs(), seed=seed).status == PASSED
    assert pipelines.freshness(stale_asof, seed=seed).status == PASSED


def test_freshness_mistakes_are_named():
    f, costs, c = pipelines.freshness, _costs(), pipelines.expected_costs()
    assert f(stale_merge, costs).status == PASSED and f(stale_asof).status == PASSED
    midnight = _with_age(stale_merge, lambda r, h, a: ((r["request_time"] - r["request_time"].dt.floor("D"))
                                                        / pd.Timedelta(hours=1)).mean())
    expect_misconception(f(lambda *a: tuple(stale_merge(*a).values()), costs), "not_a_dict")
    expect_misconception(f(_with_age(stale_merge, lambda r, h, a: 12.0), costs), "assumed_uniform")
    expect_misconception(f(midnight, costs), "age_from_midnight")
    expect_misconception(f(_with_age(stale_merge, lambda r, h, a: 24 - a), costs), "age_to_next_run")
    expect_misconception(f(_with_age(stale_merge, lambda r, h, a: a + 1), costs), "wrong_age")
    expect_misconception(f(lambda r, e, h, k: stale_merge(r, e.assign(event_type=k), h, k), costs),
                         "stale_any_event_type")
    expect_misconception(f(lambda *a: {**stale_merge(*a), "stale_share": stale_merge(*a)["stale_share"] / 2}, costs),
                         "wrong_stale_share")
    expect_misconception(f(stale_merge, {k: v * case.SAMPLE_RATE for k, v in costs.items()}), "sample_rate_ignored")
    expect_misconception(f(stale_merge, {**costs, "batch_per_day": c["batch_requested_only"]}),
                         "batch_for_requested_only")
    expect_misconception(f(stale_merge, {"batch_per_day": costs["online_per_day"], "online_per_day": costs["batch_per_day"]}),
                         "wrong_costs")
    assert f(None).status == NOT_ATTEMPTED


def test_freshness_figures_of_the_narrative():
    """13.0 h old on average, 8 % of requests miss a login, 99 % of the cancellation page's requests miss the visit;
    about $50 a day batch, $216 online, $22 online for the cancellation page only."""
    data = pipelines.case_data()
    log, events = data.serving_log, data.events
    everyone = pipelines.reference_staleness(log, events, case.BATCH_HOUR, "login")
    page = pipelines.reference_staleness(log[log["page"] == "cancel"], events, case.BATCH_HOUR, "cancel_page_visit")
    assert everyone["mean_age_hours"] == pytest.approx(13.0, abs=0.05)
    assert everyone["stale_share"] == pytest.approx(0.080, abs=0.001)
    assert page["stale_share"] > 0.99
    c = pipelines.expected_costs()
    assert round(c["batch_per_day"]) == 50 and round(c["online_per_day"]) == 216
    assert round((log["page"] == "cancel").sum() / 31 / case.SAMPLE_RATE * case.ONLINE_COST_PER_REQUEST) == 22


# ---------------------------------------------------------------- decision

GOOD = {"event_at_label_time": "exclude", "validation_split": "time_and_customer", "skew_fix": "share_fitted_pipeline",
        "logins_30d_serving": "batch", "cancel_visits_serving": "online"}


def test_decision():
    d = pipelines.decision
    assert d(GOOD).status == PASSED
    assert d({k: "Time and customer" if k == "validation_split" else v for k, v in GOOD.items()}).status == PASSED
    assert d(dict.fromkeys(GOOD)).status == NOT_ATTEMPTED
    expect_misconception(d(list(GOOD.values())), "not_a_dict")
    expect_misconception(d({**GOOD, "skew_fix": None}), "missing_key")
    expect_misconception(d({**GOOD, "event_at_label_time": "include"}), "decision_event_at_label_time")
    expect_misconception(d({**GOOD, "validation_split": "random_rows"}), "decision_validation_split")
    expect_misconception(d({**GOOD, "skew_fix": "refit_on_serving_batch"}), "decision_skew_fix")
    expect_misconception(d({**GOOD, "logins_30d_serving": "online"}), "decision_logins_30d_serving")
    expect_misconception(d({**GOOD, "cancel_visits_serving": "batch"}), "decision_cancel_visits_serving")
    expect_misconception(d({**GOOD, "skew_fix": "more data"}), "unknown_choice")
