"""Replay a production stream week by week: retrain when a policy says so, and count what it costs.

:class:`Replay` takes a :func:`~mlcasebook.datasets.make_production_stream` and plays it forward. At the end of
each window after the reference period it shows a trigger policy the monitoring history known *at that moment*
(drift statistics of every window so far, error rates of the windows whose labels have arrived) and asks whether
to retrain. A retrain refits the deployed logistic regression on the rows whose labels have arrived from the last
``lookback`` windows; the new model serves from the next window on. Because the replay knows the true churn
probabilities, it can count each model's *avoidable errors* (decisions the true probability would have made the
other way) and find the best schedule with hindsight (:meth:`Replay.oracle`).

:func:`make_contact_campaign` simulates the model's own effect on its labels: flagged customers are called, and a
called churner stays with the save rate, unless a random holdout of the flagged is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from mlcasebook.cases import retraining as case

HISTORY_COLUMNS = ("window", "version", "since_retrain", "n", "psi", "error_rate", "train_error_rate")
_PSI_BINS = 10
_PSI_EPS = 0.5  # pseudo-count per bin: an empty bin gives a large, finite PSI


@dataclass(frozen=True)
class ReplayResult:
    """What a schedule cost on a replay.

    Attributes
    ----------
    name : str
    retrains : tuple of int
        Windows at whose end the model was retrained (it serves from the next window).
    cost : float
        ``retrain_cost + error_cost``, dollars.
    retrain_cost, error_cost : float
        Retrains times the cost per retrain; avoidable errors times the cost per error.
    avoidable_errors : float
        Expected errors above those of deciding with the true probabilities, summed over the served windows.
    table : DataFrame
        One row per window: ``window, version, psi, error_rate`` (realised, in hindsight: every label),
        ``avoidable_errors, retrained``.
    """

    name: str
    retrains: tuple[int, ...]
    cost: float
    retrain_cost: float
    error_cost: float
    avoidable_errors: float
    table: pd.DataFrame

    @property
    def n_retrains(self) -> int:
        return len(self.retrains)

    def __str__(self) -> str:
        weeks = ", ".join(map(str, self.retrains)) or "none"
        return (f"{self.name}: ${self.cost:,.0f} = {self.n_retrains} retrains (${self.retrain_cost:,.0f}) + "
                f"{self.avoidable_errors:,.0f} avoidable errors (${self.error_cost:,.0f}); retrained after {weeks}")


class Replay:
    """A stream replayed window by window, with retraining, costs and the hindsight-optimal schedule.

    Parameters
    ----------
    stream : Bunch from :func:`~mlcasebook.datasets.make_production_stream`
    lookback : int
        A retrain at the end of window ``now`` uses the rows with ``label_available_at <= now`` and
        ``window > now - lookback``.
    cost_per_retrain, cost_per_error : float
        Dollars per retrain and per avoidable error.
    threshold : float
        A customer is flagged when the score is at least this; an error is a flagged stayer or an unflagged churner.

    Notes
    -----
    The deployed pipeline's fitted preprocessing (imputation, scaling, one-hot) is applied once; a retrain refits
    the logistic regression on top of it, which is what refitting the whole pipeline does up to the scaler's
    reparametrisation (the imputers' medians barely move). Models are fitted once per retrain window and cached,
    so replaying many policies costs little more than one.
    """

    def __init__(self, stream, *, lookback: int = case.LOOKBACK, cost_per_retrain: float = case.COST_PER_RETRAIN,
                 cost_per_error: float = case.COST_PER_ERROR, threshold: float = case.THRESHOLD):
        frame = stream.frame
        self.stream = stream
        self.features = list(stream.features)
        self.lookback, self.threshold = int(lookback), float(threshold)
        self.cost_per_retrain, self.cost_per_error = float(cost_per_retrain), float(cost_per_error)
        self.reference_windows = int(stream.truth.reference_windows)
        self.label_delay = int(stream.truth.label_delay)
        self._X = np.asarray(stream.model[:-1].transform(frame[self.features]), dtype=float)
        self._y = frame["label"].to_numpy()
        self._p = np.asarray(stream.truth.probability, dtype=float)
        self._window = frame["window"].to_numpy()
        self._arrival = frame["label_available_at"].to_numpy()
        self.n_windows = int(self._window.max()) + 1
        self._starts = np.r_[0, np.flatnonzero(np.diff(self._window)) + 1]
        self._n = np.diff(np.r_[self._starts, len(self._window)])
        bayes = np.minimum(self._p, 1 - self._p)
        self._bayes = np.add.reduceat(bayes, self._starts)
        self._raw = frame[self.features]
        self._columns: dict[str, tuple[list | None, np.ndarray]] = {}
        self._models: dict[int, dict] = {}
        self._oracle: ReplayResult | None = None

    # ------------------------------------------------------------ models

    @property
    def decision_windows(self) -> range:
        """Windows at whose end a policy is asked (the last window has no next one to serve)."""
        return range(self.reference_windows, self.n_windows - 1)

    def _training_mask(self, now: int) -> np.ndarray:
        if now < 0:
            return self._window < self.reference_windows
        return (self._arrival <= now) & (self._window > now - self.lookback)

    def _model(self, trained_at: int) -> dict:
        """The model retrained at the end of ``trained_at`` (-1: the deployed one), with its per-window figures."""
        if trained_at not in self._models:
            mask = self._training_mask(trained_at)
            if trained_at < 0:
                clf = self.stream.model[-1]
            else:
                with threadpool_limits(1):  # a 4,000-row fit: BLAS threads only contend (9x slower on a busy 2-core machine)
                    clf = LogisticRegression(max_iter=1000, solver="newton-cholesky").fit(self._X[mask], self._y[mask])
            flagged = clf.predict_proba(self._X)[:, 1] >= self.threshold
            expected = np.where(flagged, 1 - self._p, self._p)
            wrong = flagged != (self._y == 1)
            self._models[trained_at] = {
                "mask": mask,
                "avoidable": np.add.reduceat(expected, self._starts) - self._bayes,
                "error_rate": np.add.reduceat(wrong.astype(float), self._starts) / self._n,
                "train_error_rate": float(wrong[mask].mean()),
            }
        return self._models[trained_at]

    def _psi(self, trained_at: int) -> np.ndarray:
        """Per window, the largest PSI over the features of that window against the model's training rows."""
        model = self._model(trained_at)
        if "psi" not in model:
            worst = np.zeros(self.n_windows)
            for column in self.features:
                codes, n_bins = _bin_codes(self._column(column), model["mask"])
                counts = np.bincount(self._window * n_bins + codes, minlength=self.n_windows * n_bins)
                counts = counts.reshape(self.n_windows, n_bins).astype(float)
                ref = np.bincount(codes[model["mask"]], minlength=n_bins).astype(float)
                ref = (ref + _PSI_EPS) / (ref + _PSI_EPS).sum()
                cur = (counts + _PSI_EPS) / (counts + _PSI_EPS).sum(axis=1, keepdims=True)
                worst = np.maximum(worst, np.sum((cur - ref) * np.log(cur / ref), axis=1))
            model["psi"] = worst
        return model["psi"]

    def _column(self, column: str) -> tuple[list | None, np.ndarray]:
        """A feature as :func:`_bin_codes` reads it, built once: (levels, codes) of a categorical, (None, floats) of
        a number."""
        if column not in self._columns:
            values = self._raw[column]
            if values.dtype == object:
                codes, uniques = pd.factorize(values)  # a missing value is code -1
                self._columns[column] = (list(uniques), codes)
            else:
                self._columns[column] = (None, values.to_numpy(dtype=float))
        return self._columns[column]

    # ------------------------------------------------------------ replaying

    def run(self, policy: Callable[[pd.DataFrame], bool], name: str = "policy") -> ReplayResult:
        """Ask ``policy(history)`` at the end of every decision window; retrain when it returns True.

        ``history`` holds one row per window from the end of the reference period to ``now`` (the last row):
        ``window``; ``version`` of the model that served it (0 = the deployed model, +1 per retrain);
        ``since_retrain`` (windows that version had served before this one); ``n`` customers scored; ``psi``, the
        largest feature PSI of the window against the training rows of the model that served it; ``error_rate``
        of that model on the window's labels, NaN while they have not arrived; ``train_error_rate``, that model's
        error rate on its own training rows.
        """
        # the history's columns, filled row by row; each call gets a fresh frame of the rows so far (a policy may
        # change what it is given). Built from arrays: a frame from a list of dicts cost ~0.8 ms a window.
        windows = self.decision_windows
        columns = {name: np.zeros(len(windows), dtype=float if name in ("psi", "error_rate", "train_error_rate")
                                  else np.int64) for name in HISTORY_COLUMNS}
        serving, version, since = -1, 0, 0
        retrains = []
        for row, now in enumerate(windows):
            model = self._model(serving)
            for name, value in (("window", now), ("version", version), ("since_retrain", since),
                                ("n", int(self._n[now])), ("psi", float(self._psi(serving)[now])),
                                ("error_rate", float(model["error_rate"][now])),
                                ("train_error_rate", model["train_error_rate"])):
                columns[name][row] = value
            history = pd.DataFrame({name: values[:row + 1].copy() for name, values in columns.items()})
            history.loc[history["window"] + self.label_delay > now, "error_rate"] = np.nan
            since += 1
            if _as_bool(policy(history)):
                retrains.append(now)
                serving, version, since = now, version + 1, 0
        return self.schedule(retrains, name=name)

    def schedule(self, retrains: Iterable[int], name: str = "schedule") -> ReplayResult:
        """The cost of retraining at the end of the given windows."""
        retrains = tuple(sorted({int(r) for r in retrains if int(r) in self.decision_windows}))
        rows, serving, version = [], -1, 0
        avoidable = 0.0
        for w in range(self.reference_windows, self.n_windows):
            model = self._model(serving)
            avoidable += float(model["avoidable"][w])
            rows.append({"window": w, "version": version, "psi": float(self._psi(serving)[w]),
                         "error_rate": float(model["error_rate"][w]), "avoidable_errors": float(model["avoidable"][w]),
                         "retrained": w in retrains})
            if w in retrains:
                serving, version = w, version + 1
        retrain_cost = self.cost_per_retrain * len(retrains)
        error_cost = self.cost_per_error * avoidable
        return ReplayResult(name, retrains, retrain_cost + error_cost, retrain_cost, error_cost, avoidable,
                            pd.DataFrame(rows))

    def oracle(self) -> ReplayResult:
        """The cheapest schedule with hindsight: it knows every model's avoidable errors in every future window.

        It retrains with the same recipe as any policy (arrived labels of the last ``lookback`` windows); only the
        timing is chosen with the truth. Dynamic programming over the window of the last retrain. Computed once per
        replay; each call gets its own copy of the table.
        """
        if self._oracle is None:
            self._oracle = self._hindsight()
        return replace(self._oracle, table=self._oracle.table.copy())

    def _hindsight(self) -> ReplayResult:
        first, last = self.reference_windows, self.n_windows - 1
        cands = [-1, *self.decision_windows]
        cum = {q: np.r_[0.0, np.cumsum(self._model(q)["avoidable"])] for q in cands}

        def serve(q: int, a: int, b: int) -> float:  # cost of model q serving windows a..b
            return self.cost_per_error * float(cum[q][b + 1] - cum[q][a]) if b >= a else 0.0

        best: dict[int, tuple[float, tuple[int, ...]]] = {-1: (0.0, ())}
        for r in self.decision_windows:
            best[r] = min(((c + serve(q, first if q < 0 else q + 1, r) + self.cost_per_retrain, path + (r,))
                           for q, (c, path) in best.items()), key=lambda o: o[0])
        _, path = min(((c + serve(q, first if q < 0 else q + 1, last), path) for q, (c, path) in best.items()),
                      key=lambda o: o[0])
        return self.schedule(path, name="oracle (hindsight)")


@lru_cache(maxsize=4)
def make_retraining_replay(random_state=0, *, control: bool = False) -> Replay:
    """The case's year (:func:`mlcasebook.cases.retraining.scenario`) as a :class:`Replay` (cached per seed).

    52 weekly windows of 1,000 customers, labels three weeks late, the deployed model fitted on weeks 0-3.
    ``control=True`` gives the no-drift control: the same customers, nothing changing.
    """
    from mlcasebook.datasets.monitoring import make_production_stream

    stream = make_production_stream(case.N_WINDOWS, rows_per_window=case.ROWS_PER_WINDOW,
                                    reference_windows=case.REFERENCE_WINDOWS, label_delay=case.LABEL_DELAY,
                                    drifts=[] if control else case.scenario(), random_state=random_state)
    return Replay(stream)


def _as_bool(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    raise TypeError(f"a trigger policy returns True or False, got {type(value).__name__}")


def _bin_codes(column: tuple[list | None, np.ndarray], reference: np.ndarray) -> tuple[np.ndarray, int]:
    """Bin codes of a feature's values (from :meth:`Replay._column`) with bins fixed on the ``reference`` rows
    (deciles, or the levels seen there) and a last bin for missing values and unseen levels."""
    uniques, values = column
    if uniques is not None:  # values are the codes of pd.factorize
        seen = np.unique(values[reference & (values >= 0)])
        levels = sorted(uniques[k] for k in seen)
        rank = {level: i for i, level in enumerate(levels)}
        n_bins = len(levels) + 1
        lookup = np.array([rank.get(u, n_bins - 1) for u in uniques] + [n_bins - 1], dtype=int)
        return lookup[values], n_bins  # code -1 (missing) reads the last entry
    ref = values[reference]
    edges = np.unique(np.quantile(ref[~np.isnan(ref)], np.linspace(0, 1, _PSI_BINS + 1)[1:-1]))
    n_bins = len(edges) + 2
    return np.where(np.isnan(values), n_bins - 1, np.searchsorted(edges, values, side="right")), n_bins


def make_contact_campaign(stream, windows: Iterable[int] | None = None, *, threshold: float = case.THRESHOLD,
                          holdout_share: float = case.HOLDOUT_SHARE, save_rate: float = case.SAVE_RATE,
                          random_state=0) -> Bunch:
    """The model's actions change its labels: flagged customers are called, and a called churner may stay.

    The generative story: in each of the ``windows`` (default: all after the reference period) every customer
    whose score is at least ``threshold`` is flagged; a random ``holdout_share`` of the flagged is left uncalled
    (the randomised holdout), the rest are called. A called customer who would have churned stays with probability
    ``save_rate``; everyone else's outcome is what it would have been. ``churned`` is what the business observes.

    Returns
    -------
    Bunch with
        frame : DataFrame ``window, score, flagged, holdout, contacted, churned`` (0/1 observed churn).
        truth : Bunch with ``untreated`` (the churn each customer would have shown uncalled, 0/1),
            ``precision`` (the untreated churn rate of the flagged), ``save_rate``, ``holdout_share``.
    """
    if not 0 <= holdout_share <= 1 or not 0 <= save_rate <= 1:
        raise ValueError("holdout_share and save_rate are shares in [0, 1].")
    frame = stream.frame
    if windows is None:
        windows = range(int(stream.truth.reference_windows), int(frame["window"].max()) + 1)
    rows = frame[frame["window"].isin(list(windows))]
    rng = np.random.default_rng(random_state)
    flagged = rows["score"].to_numpy() >= threshold
    holdout = flagged & (rng.random(len(rows)) < holdout_share)
    contacted = flagged & ~holdout
    untreated = rows["label"].to_numpy().astype(int)
    saved = contacted & (untreated == 1) & (rng.random(len(rows)) < save_rate)
    out = pd.DataFrame({"window": rows["window"].to_numpy(), "score": rows["score"].to_numpy(),
                        "flagged": flagged, "holdout": holdout, "contacted": contacted,
                        "churned": np.where(saved, 0, untreated)})
    truth = Bunch(untreated=untreated, precision=float(untreated[flagged].mean()) if flagged.any() else float("nan"),
                  save_rate=float(save_rate), holdout_share=float(holdout_share))
    return Bunch(frame=out, truth=truth)


__all__ = ["HISTORY_COLUMNS", "Replay", "ReplayResult", "make_contact_campaign", "make_retraining_replay"]
