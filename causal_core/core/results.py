"""Frozen result objects returned by the engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from causal_core.inference import Inference, InferenceInput

__all__ = ["EstimateResult", "FrozenMapping", "MethodOutput", "RESULT_COLUMNS", "WeightDiagnostics", "ess_by_arm",
           "kish_ess"]

#: Columns of :meth:`EstimateResult.summary` and of :func:`causal_core.compare`'s table, in order.
#: ``n_used`` counts the units that enter the estimate (positive weight), ``n_treated`` /
#: ``n_control`` the same per arm, ``n_design`` the rows left after dropping missing values;
#: ``ess_treated`` / ``ess_control`` are Kish's effective sample size of each arm's weights.
RESULT_COLUMNS = ("method", "estimand", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n_used",
                  "n_treated", "n_control", "n_design", "ess_treated", "ess_control", "seconds", "warnings", "error")


class FrozenMapping(Mapping):
    """A read-only, picklable mapping (``types.MappingProxyType`` does not pickle)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_items", dict(items or {}))

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenMapping is read-only.")

    def __reduce__(self):
        return (FrozenMapping, (self._items,))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"


def kish_ess(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of non-negative weights (0.0 when all are zero).

    The one ESS of the package: balance tables, weight charts, estimator
    diagnostics and :class:`WeightDiagnostics` all call it.
    """
    w = np.asarray(weights, dtype=float)
    denominator = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / denominator) if denominator > 0 else 0.0


def ess_by_arm(weights: np.ndarray, treated: np.ndarray) -> dict[str, float]:
    """:func:`kish_ess` of the treated and the control weights, ``{"treated": ..., "control": ...}``."""
    w = np.asarray(weights, dtype=float)
    mask = np.asarray(treated, dtype=bool)
    return {"treated": kish_ess(w[mask]), "control": kish_ess(w[~mask])}


@dataclass(frozen=True)
class WeightDiagnostics:
    """How uneven a method's weights are, one typed record for every weighting or matching method.

    Attributes
    ----------
    ess_before, ess_after : FrozenMapping
        Kish's effective sample size (:func:`kish_ess`) by arm, ``{"treated": ..., "control": ...}``,
        with equal weights (the row counts) and with the method's weights. A
        non-binary treatment has a single arm, ``"all"``.
    ess_total : float
        Kish's effective sample size of all the weights together.
    max_weight_share : float
        Largest weight over the sum of the weights (1 / n for equal weights).
    n_zero : int
        Rows whose weight is zero (unmatched or trimmed).
    n_positive : FrozenMapping
        Rows with a positive weight by arm (the units that enter the estimate), keyed like ``ess_after``.
    """

    ess_before: FrozenMapping
    ess_after: FrozenMapping
    ess_total: float
    max_weight_share: float
    n_zero: int
    n_positive: FrozenMapping = field(default_factory=FrozenMapping)

    @classmethod
    def from_weights(cls, weights: np.ndarray, treated: np.ndarray | None) -> "WeightDiagnostics":
        """Diagnostics of one weight per used row; ``treated`` is the arm mask (``None``: one arm)."""
        w = np.asarray(weights, dtype=float).ravel()
        if treated is None:
            before, after = {"all": float(w.size)}, {"all": kish_ess(w)}
            positive = {"all": int(np.sum(w > 0))}
        else:
            mask = np.asarray(treated, dtype=bool)
            before = {"treated": float(mask.sum()), "control": float((~mask).sum())}
            after = ess_by_arm(w, mask)
            positive = {"treated": int(np.sum(w[mask] > 0)), "control": int(np.sum(w[~mask] > 0))}
        total = float(np.sum(w))
        return cls(
            ess_before=FrozenMapping(before),
            ess_after=FrozenMapping(after),
            ess_total=kish_ess(w),
            max_weight_share=float(np.max(w) / total) if total > 0 and w.size else float("nan"),
            n_zero=int(np.sum(w == 0)),
            n_positive=FrozenMapping(positive),
        )


@dataclass(frozen=True)
class MethodOutput:
    """What an estimator function computes; :func:`causal_core.estimate` adds the bookkeeping.

    ``inference`` is the estimator's inference input, one of: an
    :class:`~causal_core.inference.InfluenceFunction`, a
    :class:`~causal_core.inference.Bootstrap` (a refit function to resample),
    or a ready :class:`~causal_core.inference.Inference` from a closed-form
    variance (:func:`~causal_core.inference.analytic_inference`). The
    standard error, interval and p-value are then computed in one place,
    :func:`causal_core.inference.resolve_inference`.
    """

    estimate: float
    inference: InferenceInput
    weights: np.ndarray | None = None
    unit_effects: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    n_used: int | None = None


@dataclass(frozen=True)
class EstimateResult:
    """One causal effect estimate with its uncertainty and diagnostics.

    Attributes
    ----------
    estimate : float
        Point estimate of the effect on the outcome scale.
    std_error : float
        Standard error (how it was computed: ``inference.method``).
    ci_low, ci_high : float
        95% confidence interval.
    estimand : str
        ``"ATE"``, ``"ATT"``, ``"ATC"`` (or a method-specific estimand such as ``"LATE"``).
    method : str
        Method id from :func:`causal_core.list_methods`.
    n_used : int
        Units that enter the estimate: rows of the design with a positive weight
        (matched, kept after trimming) for matching and weighting methods, else
        every row of the design. Per arm: :attr:`n_used_by_arm`.
    weights : ndarray or None
        One weight per row of the design (matching or weighting methods; zero for
        unmatched or trimmed rows), else ``None``.
    unit_effects : ndarray or None
        One estimated individual effect per row of the design, where the method gives them.
    diagnostics : dict
        Method-specific numbers (effective sample size, convergence, selected variables...).
    warnings : tuple of str
        Soft problems worth the analyst's attention.
    seconds : float
        Wall-clock time of the estimation.
    inference : Inference or None
        Standard error, interval and p-value with how they were computed (``inference.method``,
        bootstrap replicates); :meth:`conf_int` and :attr:`p_value` follow it.
    row_index : ndarray or None
        Original DataFrame index labels of the used rows, in the order of
        ``weights`` and ``unit_effects`` (``PreparedData.index``): align with
        the data by ``df.loc[result.row_index]``, never by shape.
    treated : ndarray of bool or None
        Treated mask over the used rows (binary treatments), else ``None``.
    roles : Roles or None
        The roles the estimate was made with.
    options : FrozenMapping
        The method's keyword options as given (read-only).
    seed : int or None
        The seed the method ran under.
    treated_level, control_level : Any
        Original treatment labels (binary treatments).
    covariate_names : tuple of str
        Encoded confounder names (``"col"`` or ``"col=level"``), as the method saw them.
    weight_diagnostics : WeightDiagnostics or None
        Effective sample size by arm, largest weight share and zero weights,
        where the method gives one weight per used row.
    n_design : int or None
        Rows in the design: the rows left after dropping rows with missing values
        in the used columns (``len(row_index)``), before any matching or trimming.
    library_warnings : tuple of str
        Warnings that scikit-learn, statsmodels, cvxpy, torch... raised during
        the method, deduplicated with their source and count ("ConvergenceWarning
        from sklearn.linear_model._logistic: ... (3 times)"); they are also in
        ``warnings``, prefixed "Library warning:", so the app shows them.
    compute : mapping
        Where the fan-outs ran (:func:`causal_core.set_backend`): ``backend``
        ("serial", "local", "cluster"), ``address``, ``n_workers``,
        ``threads_per_worker`` and the package ``versions``. The numbers do not
        depend on it; it is provenance.

    Results hold no data and no fitted models, so they pickle cheaply; use
    :func:`causal_core.core.provenance.design_for` to rebuild the encoded covariates.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    estimand: str
    method: str
    n_used: int
    weights: np.ndarray | None = None
    unit_effects: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    inference: Inference | None = None
    row_index: np.ndarray | None = field(default=None, repr=False)
    treated: np.ndarray | None = field(default=None, repr=False)
    roles: Any = None
    options: FrozenMapping = field(default_factory=FrozenMapping)
    seed: int | None = None
    treated_level: Any = None
    control_level: Any = None
    covariate_names: tuple[str, ...] = ()
    weight_diagnostics: WeightDiagnostics | None = None
    library_warnings: tuple[str, ...] = ()
    n_design: int | None = None
    compute: FrozenMapping = field(default_factory=FrozenMapping)

    def _inference(self) -> Inference:
        if self.inference is not None:
            return self.inference
        return Inference(estimate=self.estimate, std_error=self.std_error, ci_low=self.ci_low, ci_high=self.ci_high,
                         method="analytic")

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """Interval at ``level`` as the inference method gives it (percentile bootstrap quantiles, else normal)."""
        return self._inference().conf_int(level)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of 'no effect' (normal approximation, or t with degrees of freedom)."""
        return self._inference().p_value

    @property
    def effective_sample_size(self) -> float | None:
        """Kish's effective sample size of all the weights pooled, (sum w)^2 / sum w^2, or None.

        Pooled over both arms; for the ATT the control arm's value matters
        (:attr:`ess_by_arm`), and that is what tables and reports show.
        """
        if self.weight_diagnostics is not None:
            return self.weight_diagnostics.ess_total
        if self.weights is None:
            return None
        return kish_ess(self.weights)

    @property
    def ess_by_arm(self) -> dict[str, float]:
        """Kish's effective sample size of each arm's weights, ``{"treated": ..., "control": ...}`` (empty without weights)."""
        if self.weight_diagnostics is not None:
            return dict(self.weight_diagnostics.ess_after)
        if self.weights is None or self.treated is None:
            return {}
        return ess_by_arm(self.weights, self.treated)

    @property
    def n_used_by_arm(self) -> dict[str, int]:
        """Units entering the estimate by arm, ``{"treated": ..., "control": ...}`` (empty for a non-binary treatment)."""
        if self.weight_diagnostics is not None and self.weight_diagnostics.n_positive:
            return dict(self.weight_diagnostics.n_positive)
        if self.treated is None:
            return {}
        mask = np.asarray(self.treated, dtype=bool)
        if self.weights is not None and np.shape(self.weights) == mask.shape:
            w = np.asarray(self.weights, dtype=float)
            return {"treated": int(np.sum(w[mask] > 0)), "control": int(np.sum(w[~mask] > 0))}
        return {"treated": int(mask.sum()), "control": int((~mask).sum())}

    @property
    def n_rows(self) -> int:
        """Rows in the design (:attr:`n_design`; ``len(row_index)`` or :attr:`n_used` when it was not recorded)."""
        if self.n_design is not None:
            return int(self.n_design)
        if self.row_index is not None:
            return int(len(self.row_index))
        return int(self.n_used)

    def unit_effect_averages(self) -> list[tuple[str, float]]:
        """Means of :attr:`unit_effects` with the population each averages over, the estimand's first.

        ``[("mean over treated rows (the ATT population)", ...), ("mean over all rows (the ATE)", ...)]``
        for an ATT (controls for an ATC); only the all-rows mean for the ATE or
        when the arms are unknown. Empty without unit effects.
        """
        if self.unit_effects is None:
            return []
        effects = np.asarray(self.unit_effects, dtype=float).ravel()
        finite = np.isfinite(effects)
        if not finite.any():
            return []
        overall = ("mean over all rows (the ATE)", float(effects[finite].mean()))
        arm = {"ATT": ("treated", True), "ATC": ("control", False)}.get(self.estimand)
        if arm is None or self.treated is None or np.shape(self.treated) != effects.shape:
            return [overall]
        rows = (np.asarray(self.treated, dtype=bool) == arm[1]) & finite
        if not rows.any():
            return [overall]
        return [(f"mean over {arm[0]} rows (the {self.estimand} population)", float(effects[rows].mean())), overall]

    def summary(self) -> dict[str, Any]:
        """One flat row for a comparison table (columns: :data:`causal_core.core.results.RESULT_COLUMNS`)."""
        by_arm, ess = self.n_used_by_arm, self.ess_by_arm
        return {
            "method": self.method,
            "estimand": self.estimand,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "n_used": self.n_used,
            "n_treated": by_arm.get("treated", np.nan),
            "n_control": by_arm.get("control", np.nan),
            "n_design": self.n_rows,
            "ess_treated": ess.get("treated", np.nan),
            "ess_control": ess.get("control", np.nan),
            "seconds": self.seconds,
            "warnings": " | ".join(self.warnings),
        }

