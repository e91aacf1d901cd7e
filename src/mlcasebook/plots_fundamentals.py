"""Plot helpers for module 01_fundamentals: every figure gets a title, labelled axes and units.

Each helper draws on the ``ax`` (or ``axes``) it is given, else on a new figure, and returns None (nothing
printable below a cell); units with a dollar sign are escaped so matplotlib does not read them as mathtext.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mlcasebook.plots import plain_dollars

# ---------------------------------------------------------------- metrics_and_thresholds


def confusion_counts_plot(y_true, y_pred, ax=None, labels=("no churn", "churn"),
                          title: str = "Confusion matrix (number of customers)") -> None:
    """Confusion matrix as a labelled grid of counts: rows are the true class, columns the predicted class."""
    from sklearn.metrics import ConfusionMatrixDisplay

    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=list(labels), ax=ax, colorbar=False,
                                            cmap="Blues")
    ax.set(xlabel="Predicted class (customers)", ylabel="True class (customers)", title=title)
    ax.figure.tight_layout()


def roc_pr_by_prevalence(scored: dict, axes=None,
                         title: str = "One model, four prevalences: ROC stays, precision-recall collapses") -> None:
    """ROC curves (left) and precision-recall curves (right) of the same scores at several prevalences.

    ``scored`` maps a prevalence (share of positives, e.g. 0.01) to ``(y_true, scores)``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
    else:
        fig = axes[0].figure
    for prevalence, (y, s) in sorted(scored.items(), reverse=True):
        fpr, tpr, _ = roc_curve(y, s)
        axes[0].plot(fpr, tpr, label=f"{prevalence:.0%} positives (ROC-AUC {roc_auc_score(y, s):.2f})")
        precision, recall, _ = precision_recall_curve(y, s)
        axes[1].step(recall, precision, where="post",
                     label=f"{prevalence:.0%} positives (AP {average_precision_score(y, s):.2f})")
    axes[0].plot([0, 1], [0, 1], color="grey", ls="--", label="random ordering")
    axes[0].set(xlabel="False positive rate (share of negatives flagged)",
                ylabel="True positive rate (share of positives flagged)", title="ROC curves",
                xlim=(0, 1), ylim=(0, 1.02))
    axes[1].set(xlabel="Recall (share of positives flagged)", ylabel="Precision (share of flagged that are positive)",
                title="Precision-recall curves", xlim=(0, 1), ylim=(0, 1.02))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()


def metrics_by_prevalence(table, ax=None, title: str = "Metrics of the same model as prevalence falls") -> None:
    """ROC-AUC, average precision and the flag-nobody accuracy (rows of ``table`` indexed by prevalence)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    prevalence = np.asarray(table.index, dtype=float)
    order = np.argsort(prevalence)
    for column, style in (("roc_auc", "o-"), ("average_precision", "s-"), ("baseline_accuracy", "^:")):
        if column in table.columns:
            ax.plot(prevalence[order], np.asarray(table[column], float)[order], style, label=column)
    ax.plot(prevalence[order], prevalence[order], color="grey", ls="--", label="AP of random ordering (= prevalence)")
    ax.set_xscale("log")
    ax.set_xticks(prevalence, [f"{v:.0%}" for v in prevalence])
    ax.minorticks_off()
    ax.invert_xaxis()  # read left to right as prevalence falls
    ax.set(xlabel="Prevalence (share of positives, log scale)", ylabel="Metric value (0 to 1)", title=title,
           ylim=(0, 1.02))
    ax.legend(fontsize=8)
    ax.figure.tight_layout()


# ---------------------------------------------------------------- error_analysis_residuals


def residuals_vs_fitted(fitted, residuals, ax=None, bins: int = 10, unit: str = "$",
                        title: str = "Residuals vs fitted values on the test houses") -> None:
    """Residuals (actual - fitted) against fitted values, with the binned mean and ±1 SD band.

    The binned mean (equal-count bins of the fitted value) shows a curve; the band's width shows a funnel.
    ``unit`` labels both axes, e.g. "$" or "log $".
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    f = np.asarray(fitted, dtype=float).ravel()
    r = np.asarray(residuals, dtype=float).ravel()
    ax.scatter(f, r, s=8, alpha=0.35, color="C0", label="house")
    order = np.argsort(f, kind="stable")
    centres, means, sds = [], [], []
    for chunk in np.array_split(order, bins):
        centres.append(f[chunk].mean())
        means.append(r[chunk].mean())
        sds.append(r[chunk].std())
    centres, means, sds = map(np.asarray, (centres, means, sds))
    ax.plot(centres, means, "o-", color="C3", label="mean residual per bin")
    ax.fill_between(centres, means - sds, means + sds, color="C3", alpha=0.15, label="±1 SD per bin")
    ax.axhline(0, color="grey", lw=0.8)
    u = plain_dollars(unit)
    ax.set(xlabel=f"Fitted (predicted) sale price ({u})", ylabel=f"Residual: actual − fitted ({u})", title=title)
    ax.legend(fontsize=8)


def price_vs_living_area(living_area, price, highlight=None, ax=None,
                         title: str = "Sale price vs above-ground living area") -> None:
    """Scatter of sale price ($) against living area (sq ft); ``highlight`` is a boolean mask drawn in red."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    x = np.asarray(living_area, dtype=float)
    y = np.asarray(price, dtype=float)
    mask = np.zeros(len(x), bool) if highlight is None else np.asarray(highlight, bool)
    ax.scatter(x[~mask], y[~mask], s=8, alpha=0.35, label="house")
    if mask.any():
        ax.scatter(x[mask], y[mask], s=40, color="C3", label="flagged house")
    ax.set(xlabel="Above-ground living area (sq ft)", ylabel=plain_dollars("Sale price ($)"), title=title)
    ax.legend(fontsize=8)


def error_by_segment(table, ax=None, top: int = 12, unit: str = "$",
                     title: str = "Test RMSE by segment (worst first)") -> None:
    """Horizontal bars of the ``rmse`` column of an error-slice table, annotated with each segment's n."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    t = table.head(top).iloc[::-1]
    ax.barh([str(i) for i in t.index], t["rmse"].to_numpy(dtype=float), color="C0")
    for y, (value, n) in enumerate(zip(t["rmse"], t["n"], strict=True)):
        ax.text(value, y, f"  n={int(n)}", va="center", fontsize=8)
    ax.set_xlim(0, 1.15 * float(t["rmse"].max()) if len(t) else 1.0)  # room for the n= labels
    ax.set(xlabel=f"RMSE ({plain_dollars(unit)})", ylabel="Segment", title=title)


# ---------------------------------------------------------------- bias_variance_regularization


def _errors(values) -> np.ndarray:
    """Mean over folds if a (settings x folds) array is given, else the values themselves."""
    v = np.asarray(values, dtype=float)
    return v.mean(axis=1) if v.ndim == 2 else v


def polynomial_fits(x, y, fits: dict, truth=None, ax=None, x_label: str = "Daily mean temperature (°C)",
                    y_label: str = "Peak demand (GW)", title: str = "Polynomial fits to the training days") -> None:
    """Scatter of the data with one line per fitted model (``fits``: {label: (x_grid, predictions)}).

    ``truth`` is an optional callable drawn as the true curve.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    ax.scatter(np.asarray(x, float).ravel(), np.asarray(y, float).ravel(), s=10, alpha=0.5, color="grey", label="day")
    for label, (grid, pred) in fits.items():
        ax.plot(np.asarray(grid, float).ravel(), np.asarray(pred, float).ravel(), label=label)
    if truth is not None:
        grid = np.linspace(*ax.get_xlim(), 400)
        ax.plot(grid, truth(grid), color="black", ls="--", label="true curve")
    ax.set(xlabel=x_label, ylabel=y_label, title=title)
    ax.legend(fontsize=8)


def validation_curve_plot(param_values, train_errors, val_errors, *, noise_variance: float | None = None,
                          chosen=None, param_label: str = "Polynomial degree", log_x: bool = False,
                          unit: str = "GW²", ax=None, title: str = "Validation curve") -> None:
    """Training and cross-validated error against a complexity setting, with sigma**2 and the chosen setting.

    ``train_errors`` and ``val_errors`` are errors (positive, e.g. MSE in ``unit``), either one value per
    setting or a (settings x folds) array such as ``-validation_curve(...)[0]``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    p = np.asarray(param_values, dtype=float)
    ax.plot(p, _errors(train_errors), "o-", label="training error")
    ax.plot(p, _errors(val_errors), "s-", label="cross-validated error")
    if noise_variance is not None:
        ax.axhline(noise_variance, color="grey", ls="--",
                   label=f"irreducible error σ² = {noise_variance:.2f} {plain_dollars(unit)}")
    if chosen is not None:
        ax.axvline(float(chosen), color="C3", ls=":", label=f"chosen: {chosen:g}")
    if log_x:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel=param_label, ylabel=f"Mean squared error ({plain_dollars(unit)}, log scale)", title=title)
    ax.legend(fontsize=8)


def learning_curve_plot(train_sizes, train_errors, val_errors, *, noise_variance: float | None = None,
                        unit: str = "GW²", ax=None, title: str = "Learning curve") -> None:
    """Training and cross-validated error against the number of training rows (``sklearn.learning_curve`` output)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    n = np.asarray(train_sizes, dtype=float)
    ax.plot(n, _errors(train_errors), "o-", label="training error")
    ax.plot(n, _errors(val_errors), "s-", label="cross-validated error")
    if noise_variance is not None:
        ax.axhline(noise_variance, color="grey", ls="--",
                   label=f"irreducible error σ² = {noise_variance:.2f} {plain_dollars(unit)}")
    ax.set_yscale("log")
    ax.set(xlabel="Training rows (days)", ylabel=f"Mean squared error ({plain_dollars(unit)}, log scale)", title=title)
    ax.legend(fontsize=8)

