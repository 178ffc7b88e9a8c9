"""Do the estimators agree? Sign, overlap of intervals and spread relative to their standard errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.registry import get_method
from causal_core.core.results import EstimateResult

__all__ = ["AgreementSummary", "agreement_summary", "is_unadjusted", "disagreement_note", "DISAGREEMENT_Z"]

#: Two adjusting estimates further apart than this many combined standard errors (a 5% two-sided test were they
#: independent; estimates on the same rows are positively correlated, so the real test is stricter) disagree.
DISAGREEMENT_Z = 2.0


@dataclass(frozen=True)
class AgreementSummary:
    """How far several estimates of the same effect agree.

    Attributes
    ----------
    n_methods : int
    same_sign : bool
        Every estimate has the same sign (zero counts as its own sign).
    share_positive : float
        Share of estimates above zero.
    common_overlap : bool
        All confidence intervals share at least one value.
    pairwise_overlap : float
        Share of method pairs whose intervals overlap.
    spread : float
        Largest minus smallest estimate.
    spread_in_se : float
        ``spread`` divided by the median standard error.
    table : DataFrame
        ``method, estimate, std_error, ci_low, ci_high, distance_in_se`` (distance from the median estimate in own SEs).
    verdict : str
        One sentence.
    agree : bool
        Same sign and a common interval: the only verdict worth showing as good news.
    excluded : tuple of str
        Methods left out because they adjust for nothing (``MethodInfo.unadjusted``,
        the naive difference in means): they are a reference, not an estimator to agree with.
    """

    n_methods: int
    same_sign: bool
    share_positive: float
    common_overlap: bool
    pairwise_overlap: float
    spread: float
    spread_in_se: float
    table: pd.DataFrame = field(repr=False)
    verdict: str
    agree: bool = False
    excluded: tuple[str, ...] = ()


def agreement_summary(results: Mapping[str, EstimateResult]) -> AgreementSummary:
    """Summarise agreement across estimators of one effect.

    Parameters
    ----------
    results : mapping
        Method id -> :class:`EstimateResult` (results with a non-finite estimate are left out, and so
        are unadjusted baselines such as ``difference_in_means``: see ``AgreementSummary.excluded``).

    Returns
    -------
    AgreementSummary
    """
    excluded = tuple(m for m, r in results.items() if is_unadjusted(r.method))
    rows = [(m, r.estimate, r.std_error, r.ci_low, r.ci_high) for m, r in results.items()
            if m not in excluded and np.isfinite(r.estimate) and np.isfinite(r.ci_low) and np.isfinite(r.ci_high)]
    if len(rows) < 2:
        left_out = (f" ({', '.join(excluded)} adjusts for nothing and is left out)" if excluded else "")
        raise CausalInputError(
            f"Agreement needs at least 2 adjusting methods with a finite estimate; got {len(rows)}{left_out}.")
    table = pd.DataFrame(rows, columns=["method", "estimate", "std_error", "ci_low", "ci_high"])
    est = table["estimate"].to_numpy()
    se = table["std_error"].to_numpy()
    low, high = table["ci_low"].to_numpy(), table["ci_high"].to_numpy()
    signs = np.sign(est)
    same_sign = bool(np.all(signs == signs[0]))
    common = bool(low.max() <= high.min())
    n = len(rows)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    overlap = float(np.mean([max(low[i], low[j]) <= min(high[i], high[j]) for i, j in pairs]))
    spread = float(est.max() - est.min())
    median_se = float(np.median(se[np.isfinite(se)])) if np.isfinite(se).any() else float("nan")
    spread_in_se = spread / median_se if median_se > 0 else float("inf")
    centre = float(np.median(est))
    table["distance_in_se"] = np.where(se > 0, (est - centre) / np.where(se > 0, se, 1.0), np.nan)
    if same_sign and common:
        verdict = (f"The {n} estimates agree: same sign, and every 95% interval shares a common range "
                   f"(spread {spread:.3g}, {spread_in_se:.1f} median standard errors).")
    elif same_sign:
        verdict = (f"The {n} estimates share a sign but not a common interval (spread {spread_in_se:.1f} median "
                   f"standard errors, {overlap:.0%} of pairs overlap): the methods disagree on the size.")
    else:
        verdict = (f"The {n} estimates disagree on the sign ({(signs > 0).mean():.0%} positive); the direction "
                   "of the effect depends on the method, so the assumptions matter more than the data here.")
    if excluded:
        verdict += f" The unadjusted {' and '.join(excluded)} is left out of this comparison."
    return AgreementSummary(n, same_sign, float((signs > 0).mean()), common, overlap, spread, spread_in_se, table,
                            verdict, agree=bool(same_sign and common), excluded=excluded)


def disagreement_note(results: Mapping[str, EstimateResult], threshold: float = DISAGREEMENT_Z) -> str | None:
    """One sentence when two adjusting methods' estimates differ by more than ``threshold`` combined SEs, else None.

    The distance of a pair is ``|a - b| / sqrt(se_a^2 + se_b^2)``. Estimates on
    the same rows are positively correlated, so this understates the real
    distance: a pair flagged here certainly disagrees by more than sampling
    error, and at least one of the two rests on an assumption the data do not
    support. The most distant pair is named; the unadjusted baseline is left out.
    """
    from causal_core.core.formatting import format_number
    from causal_core.core.labels import method_label

    rows = [(m, float(r.estimate), float(r.std_error)) for m, r in results.items()
            if not is_unadjusted(r.method) and np.isfinite(r.estimate) and np.isfinite(r.std_error)
            and r.std_error > 0]
    worst, pair = 0.0, None
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            (ma, a, sa), (mb, b, sb) = rows[i], rows[j]
            z = abs(a - b) / float(np.hypot(sa, sb))
            if z > worst:
                worst, pair = z, (rows[i], rows[j])
    if pair is None or worst <= threshold:
        return None
    (ma, a, _), (mb, b, _) = pair
    flagged = sum(1 for i in range(len(rows)) for j in range(i + 1, len(rows))
                  if abs(rows[i][1] - rows[j][1]) / float(np.hypot(rows[i][2], rows[j][2])) > threshold)
    return (f"The methods disagree by more than sampling error: {method_label(ma)} ({format_number(a)}) and "
            f"{method_label(mb)} ({format_number(b)}) are {worst:.1f} combined standard errors apart"
            + (f" ({flagged} pairs beyond {threshold:g})" if flagged > 1 else "")
            + ". At least one of them rests on an assumption these data do not support: compare their "
              "diagnostics and identification before reporting either.")


def is_unadjusted(method: str) -> bool:
    """True for a registered method flagged ``unadjusted`` (the naive contrast)."""
    try:
        return bool(get_method(method).unadjusted)
    except CausalInputError:
        return False
