"""A home-page recommender's click log with known position bias, and a simulator that knows the truth.

The generative story (:func:`make_click_log`), in plain words:

* **Items** have a taste vector ``q_i`` (``n_factors`` numbers) and a broad appeal ``b_i``; most are in the
  catalogue from the first day, the others launch on a day spread over the period (new items: cold start), with
  their appeal raised by ``new_item_boost`` (new releases draw attention).
* **Users** have a taste vector ``p_u``; most are active from the first day, the others arrive on a day spread
  over the period (new users: cold start), and each visits the home page a few times at random moments.
* The **true relevance** of item ``i`` to user ``u`` is the probability that the user clicks it when they look at
  it: ``r(u, i) = expit(base + taste_scale * p_u . q_i + b_i)``. Tastes differ, so there is real personal signal.
* The **logging policy** (the production ranker that wrote the log) shows each visit a slate of ``slate_size``
  items: the eligible items (launched, never clicked by this user before) with the highest *noisy* estimate of
  relevance, ``b_i + taste_scale * p_u . q_i`` plus Gaussian noise of SD ``policy_noise``, best first. On a random
  share ``randomised_share`` of visits (a result-randomisation experiment) the same items are shown in a uniformly
  random order; those rows have ``randomised = True``.
* The user **examines** position ``k`` with probability ``theta_k`` (``examination``; ``theta_1 = 1`` by default
  ``1 / k ** 0.9``) and clicks an examined item with probability ``r(u, i)``, independently:
  ``P(click) = theta_k * r(u, i)``. That is the position-based click model.

So a click says "looked at and liked"; a missing click at position 9 mostly says "never looked". The truth keeps
``theta`` and every ``r(u, i)``, so estimates can be compared with what the generator used, and
:func:`simulate_clicks` draws the clicks any other ranker's slates would have received (an online test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.utils import Bunch

COLUMNS = ["session_id", "timestamp", "user_id", "item_id", "position", "randomised", "clicked"]


def power_law_examination(slate_size: int, eta: float = 0.9) -> np.ndarray:
    """Examination probabilities ``1 / k ** eta`` for positions ``k = 1 .. slate_size`` (entry 0 is position 1)."""
    return 1.0 / np.arange(1, slate_size + 1) ** float(eta)


@dataclass(frozen=True)
class ClickTruth:
    """What the generator used.

    Attributes
    ----------
    examination : ndarray of shape (slate_size,)
        ``theta_k``, the probability that position ``k`` is looked at (entry 0 is position 1).
    relevance : ndarray of shape (n_users, n_items)
        ``r(u, i)``, the click probability of an examined item; rows follow ``user_ids``, columns ``item_ids``.
    user_ids, item_ids : ndarray
        The ids the log uses, in the order of ``relevance``'s rows and columns.
    user_first_seen : ndarray of datetime64
        When each user could first visit (new users arrive during the period).
    item_launch : ndarray of datetime64
        When each item entered the catalogue.
    policy_noise : float
        SD of the logging policy's error on the relevance scale it ranks by (log-odds units).
    """

    examination: np.ndarray
    relevance: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_first_seen: np.ndarray
    item_launch: np.ndarray
    policy_noise: float
    _user_index: dict = field(default_factory=dict, repr=False, compare=False)
    _item_index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self._user_index.update({int(u): i for i, u in enumerate(self.user_ids)})
        self._item_index.update({int(t): i for i, t in enumerate(self.item_ids)})

    def relevance_of(self, users, items) -> np.ndarray:
        """``r(u, i)`` for aligned arrays (or nested lists) of user ids and item ids; an unknown id raises KeyError."""
        users, items = np.asarray(users), np.asarray(items)
        u = np.vectorize(self._user_index.__getitem__, otypes=[int])(users) if users.size else users.astype(int)
        i = np.vectorize(self._item_index.__getitem__, otypes=[int])(items) if items.size else items.astype(int)
        return self.relevance[u, i]

    def user_relevance(self, user) -> pd.Series:
        """Every item's true relevance to one user, indexed by item id."""
        return pd.Series(self.relevance[self._user_index[int(user)]], index=self.item_ids, name="relevance")

    def item_relevance(self, users=None) -> pd.Series:
        """Each item's mean true relevance over ``users`` (default: every user), indexed by item id."""
        rows = slice(None) if users is None else [self._user_index[int(u)] for u in users]
        return pd.Series(self.relevance[rows].mean(axis=0), index=self.item_ids, name="relevance")


def _distinct_ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return np.sort(rng.choice(np.arange(low, high), size=n, replace=False))


def make_click_log(n_users: int = 2_000, *, n_items: int = 500, n_days: int = 28, slate_size: int = 10,
                   n_factors: int = 8, examination=None, randomised_share: float = 0.2,
                   new_user_share: float = 0.25, new_item_share: float = 0.15, sessions_per_user: float = 7.0,
                   base: float = -3.6, taste_scale: float = 1.0, appeal_sd: float = 0.7, new_item_boost: float = 0.6,
                   policy_noise: float = 1.2,
                   start: str = "2024-03-04", random_state=None) -> Bunch:
    """A click log of a home page's recommendation slates, with position bias and the truth that made it.

    Parameters
    ----------
    n_users, n_items : int
        Users and catalogue items (ids are distinct random integers, not 0..n-1: never index arrays with them).
    n_days : int
        Length of the logged period; visits fall anywhere in it.
    slate_size : int
        Items shown per visit, at positions 1..slate_size.
    n_factors : int
        Length of the taste vectors.
    examination : array-like of shape (slate_size,), optional
        ``theta_k`` per position; default :func:`power_law_examination` with ``eta = 0.9``. All ones: no bias.
    randomised_share : float
        Share of visits whose slate is shown in a uniformly random order (the randomisation experiment).
    new_user_share, new_item_share : float
        Share of users that arrive, and of items that launch, during the period instead of on its first day.
    sessions_per_user : float
        Mean number of visits of a user active for the whole period (at least one visit each).
    base, taste_scale, appeal_sd, new_item_boost : float
        The relevance model ``expit(base + taste_scale * p_u . q_i + b_i)`` with ``b_i ~ N(0, appeal_sd)``, plus
        ``new_item_boost`` for the items that launch during the period (new releases draw attention).
    policy_noise : float
        SD of the logging policy's Gaussian error on that log-odds scale (0: it shows the truly best items).
    start : str
        First day of the log.
    random_state : int, Generator or None

    Returns
    -------
    Bunch
        ``frame``: one row per impression, columns :data:`COLUMNS` (``clicked`` is 0/1, ``position`` 1-based),
        sorted by time; ``target``: ``frame["clicked"]``; ``truth``: a :class:`ClickTruth`.
    """
    rng = np.random.default_rng(random_state)
    theta = power_law_examination(slate_size) if examination is None else np.asarray(examination, float)
    if theta.shape != (slate_size,) or not ((theta > 0) & (theta <= 1)).all():
        raise ValueError(f"examination must hold {slate_size} probabilities in (0, 1]")
    t0 = pd.Timestamp(start)
    user_ids = _distinct_ids(rng, n_users, 100_000, 1_000_000)
    item_ids = _distinct_ids(rng, n_items, 10_000, 100_000)
    p = rng.normal(0, 1 / np.sqrt(n_factors), (n_users, n_factors)) * np.sqrt(2)
    q = rng.normal(0, 1, (n_items, n_factors))
    user_start = np.where(rng.random(n_users) < new_user_share, rng.uniform(0, n_days, n_users), 0.0)
    item_start = np.where(rng.random(n_items) < new_item_share, rng.uniform(0, n_days, n_items), 0.0)
    appeal = rng.normal(0, appeal_sd, n_items) + new_item_boost * (item_start > 0)
    logit = base + taste_scale * (p @ q.T) + appeal
    relevance = expit(logit)
    active = (n_days - user_start) / n_days
    n_sessions = 1 + rng.poisson(np.maximum(sessions_per_user * active - 1, 0))
    owner = np.repeat(np.arange(n_users), n_sessions)
    when = user_start[owner] + rng.random(len(owner)) * (n_days - user_start[owner])
    order = np.lexsort((when, owner))
    owner, when = owner[order], when[order]
    visit_no = np.arange(len(owner)) - np.repeat(np.cumsum(n_sessions) - n_sessions, n_sessions)

    clicked_before = np.zeros((n_users, n_items), bool)
    chunks = []
    for v in range(int(visit_no.max()) + 1):
        rows = np.flatnonzero(visit_no == v)
        u, t = owner[rows], when[rows]
        score = logit[u] - base + rng.normal(0, policy_noise, (len(rows), n_items))
        score[(item_start[None, :] > t[:, None]) | clicked_before[u]] = -np.inf
        top = np.argpartition(-score, slate_size - 1, axis=1)[:, :slate_size]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, axis=1), axis=1), axis=1)
        shuffled = rng.random(len(rows)) < randomised_share
        perm = np.argsort(rng.random((len(rows), slate_size)), axis=1)
        top = np.where(shuffled[:, None], np.take_along_axis(top, perm, axis=1), top)
        click = rng.random(top.shape) < theta[None, :] * relevance[u[:, None], top]
        clicked_before[u[:, None].repeat(slate_size, 1)[click], top[click]] = True
        chunks.append((u, t, top, shuffled, click))

    users, times, slates, shuffled, clicks = (np.concatenate([c[j] for c in chunks]) for j in range(5))
    by_time = np.argsort(times, kind="stable")
    users, times, slates, shuffled, clicks = users[by_time], times[by_time], slates[by_time], shuffled[by_time], \
        clicks[by_time]
    n = len(users)
    seconds = np.round(times * 86_400).astype("int64")
    frame = pd.DataFrame({
        "session_id": np.repeat(np.arange(1, n + 1), slate_size),
        "timestamp": np.repeat(t0 + pd.to_timedelta(seconds, unit="s"), slate_size),
        "user_id": np.repeat(user_ids[users], slate_size),
        "item_id": item_ids[slates.ravel()],
        "position": np.tile(np.arange(1, slate_size + 1), n),
        "randomised": np.repeat(shuffled, slate_size),
        "clicked": clicks.ravel().astype("int64"),
    })
    truth = ClickTruth(
        examination=theta, relevance=relevance, user_ids=user_ids, item_ids=item_ids,
        user_first_seen=(t0 + pd.to_timedelta(np.round(user_start * 86_400), unit="s")).to_numpy(),
        item_launch=(t0 + pd.to_timedelta(np.round(item_start * 86_400), unit="s")).to_numpy(),
        policy_noise=float(policy_noise))
    return Bunch(frame=frame, target=frame["clicked"], truth=truth,
                 DESCR="click log of a home page's recommendation slates (see make_click_log)")


def simulate_clicks(truth: ClickTruth, users, slates, random_state=None) -> np.ndarray:
    """Clicks the slates would receive under the log's click model: ``P(click at k) = theta_k * r(u, i)``.

    ``users`` has one id per visit; ``slates`` one row of item ids per visit, best first (at most ``slate_size``
    long; shorter rows may be padded with -1, which is never clicked). Returns a 0/1 array shaped like ``slates``.
    """
    slates = np.asarray(slates)
    users = np.asarray(users)
    if slates.ndim != 2 or len(users) != len(slates):
        raise ValueError("slates must be a 2-D array with one row per user")
    k = slates.shape[1]
    if k > len(truth.examination):
        raise ValueError(f"slates are longer than the {len(truth.examination)} positions of the click model")
    real = slates >= 0
    r = np.zeros(slates.shape)
    r[real] = truth.relevance_of(np.repeat(users, k).reshape(slates.shape)[real], slates[real])
    rng = np.random.default_rng(random_state)
    return (rng.random(slates.shape) < truth.examination[None, :k] * r).astype(int)


def expected_clicks(truth: ClickTruth, users, slates) -> np.ndarray:
    """Expected clicks per position of each slate (``theta_k * r(u, i)``), the noiseless version of simulate_clicks."""
    slates = np.asarray(slates)
    k = slates.shape[1]
    real = slates >= 0
    r = np.zeros(slates.shape)
    r[real] = truth.relevance_of(np.repeat(np.asarray(users), k).reshape(slates.shape)[real], slates[real])
    return truth.examination[None, :k] * r
