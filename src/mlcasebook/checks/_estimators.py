"""Inspect fitted or unfitted estimators: where samplers sit, whether classes are reweighted."""

from __future__ import annotations

from collections.abc import Iterator

from sklearn.base import BaseEstimator


def walk(est) -> Iterator[tuple[object, object]]:
    """Yield (parent, estimator) for every estimator nested in ``est`` (pipelines, wrappers, column transformers)."""
    stack = [(None, est)]
    while stack:
        parent, node = stack.pop()
        yield parent, node
        children = []
        if hasattr(node, "steps"):
            children += [s for _, s in node.steps]
        if hasattr(node, "transformers"):
            children += [t for _, t, _ in node.transformers]
        for attr in ("estimator", "base_estimator", "classifier", "regressor", "estimator_"):
            child = getattr(node, attr, None)
            if isinstance(child, BaseEstimator):
                children.append(child)
        for attr in ("calibrated_classifiers_",):
            for cc in getattr(node, attr, []) or []:
                if isinstance(getattr(cc, "estimator", None), BaseEstimator):
                    children.append(cc.estimator)
        stack.extend((node, c) for c in children if c is not None and not isinstance(c, str))


def is_sampler(est) -> bool:
    return hasattr(est, "fit_resample")


def samplers(est) -> list[object]:
    return [node for _, node in walk(est) if is_sampler(node)]


def reweights_classes(est) -> bool:
    """True if any nested estimator sets a non-default class_weight or is an imblearn balanced ensemble."""
    for _, node in walk(est):
        if getattr(node, "class_weight", None) not in (None, {}):
            return True
        if type(node).__module__.startswith("imblearn.ensemble"):
            return True
    return False


def is_imblearn_pipeline(est) -> bool:
    return type(est).__module__.startswith("imblearn.pipeline")
