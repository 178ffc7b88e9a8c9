"""When can a mixture of k sources be recovered from conditionally independent discrete variables?

Three rules, each returning a frozen :class:`IdentifiabilityReport`:

* :func:`mix_iid_identifiable` (k coins, m exchangeable trials): the first
  ``2k - 1`` moments fix the k weights and biases, so ``2k - 1 <= m`` is needed
  (Blischke 1964; Rabani, Schulman & Swamy 2014).
* :func:`mix_prod_identifiable` (k sources over binary proxies): ``2k - 1``
  conditionally independent binary variables are necessary and sufficient for
  every mixture in general position (Gordon, Mazaheri, Rabani & Schulman 2021);
  the Jennrich solver here also needs two of its three views to have at least
  k joint cells each.
* :func:`kruskal_identifiable` (any discrete proxies): split the proxies into
  three views of ``d_A, d_B, d_C`` joint cells; the mixture is generically
  identified when ``min(k, d_A) + min(k, d_B) + min(k, d_C) >= 2k + 2``
  (Kruskal 1977; Allman, Matias & Rhodes 2009, Thm. 4 / Cor. 5).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IdentifiabilityReport",
    "mix_iid_identifiable",
    "mix_prod_identifiable",
    "kruskal_identifiable",
    "best_three_views",
    "largest_identifiable_k",
]

#: Above this many proxies the three-view split is found greedily, not by enumeration.
MAX_ENUMERATED_PROXIES = 9


@dataclass(frozen=True)
class IdentifiabilityReport:
    """Whether a rule holds, with the numbers behind it.

    Attributes
    ----------
    rule : str
        Name of the rule (``"2k-1 <= m"``, ``"Kruskal three views"``...).
    holds : bool
        True when the condition is met.
    k : int
        Number of sources asked for.
    max_k : int
        Largest k for which the rule holds with the same variables.
    detail : str
        One sentence with the numbers, suitable for a diagnostics table or an error.
    views : tuple of tuple of int
        For three-view rules: the proxy indices in each view.
    """

    rule: str
    holds: bool
    k: int
    max_k: int
    detail: str
    views: tuple[tuple[int, ...], ...] = ()


def mix_iid_identifiable(k: int, trials: int) -> IdentifiabilityReport:
    """k coins from m exchangeable trials per unit: needs ``2k - 1 <= m``."""
    max_k = (int(trials) + 1) // 2
    holds = 2 * k - 1 <= trials
    detail = (
        f"k={k} sources need the first {2 * k - 1} moments, so at least {2 * k - 1} trials per unit; "
        f"there are {trials}, which identify at most k={max_k}."
    )
    return IdentifiabilityReport("2k-1 <= m", holds, int(k), max_k, detail)


def best_three_views(levels: list[int] | tuple[int, ...], k: int) -> tuple[tuple[int, ...], ...]:
    """Split proxies (given their numbers of levels) into three views maximising the Kruskal sum.

    Enumerates every split for up to :data:`MAX_ENUMERATED_PROXIES` proxies;
    beyond that, assigns proxies greedily (largest first) to the view with the
    fewest joint cells. Ties keep proxies in their original order.
    """
    m = len(levels)
    if m < 3:
        return tuple((i,) for i in range(m))
    logs = np.log(np.asarray(levels, dtype=float))

    def score(assignment: tuple[int, ...]) -> tuple[float, float]:
        cells = [float(np.exp(logs[[i for i in range(m) if assignment[i] == g]].sum())) for g in range(3)]
        # the Kruskal sum first; then the smallest view as large as possible (better conditioning)
        return (sum(min(k, c) for c in cells), min(cells))

    if m <= MAX_ENUMERATED_PROXIES:
        best, best_score = None, (-1.0, -1.0)
        for assignment in itertools.product(range(3), repeat=m):
            if len(set(assignment)) < 3 or assignment[0] != 0:
                continue
            s = score(assignment)
            if s > best_score:
                best, best_score = assignment, s
        assert best is not None
        assignment = best
    else:
        totals = np.zeros(3)
        assignment_list = [0] * m
        for i in np.argsort(-logs, kind="stable"):
            g = int(np.argmin(totals))
            assignment_list[i] = g
            totals[g] += logs[i]
        assignment = tuple(assignment_list)
    return tuple(tuple(i for i in range(m) if assignment[i] == g) for g in range(3))


def _kruskal_sum(levels: list[int] | tuple[int, ...], views: tuple[tuple[int, ...], ...], k: int) -> int:
    return int(sum(min(k, int(np.prod([levels[i] for i in view]))) for view in views))


def largest_identifiable_k(levels: list[int] | tuple[int, ...], *, limit: int = 16) -> int:
    """Largest k (at most ``limit``) for which the Kruskal three-view condition holds; 1 if none."""
    best = 1
    for k in range(2, limit + 1):
        if len(levels) >= 3 and _kruskal_sum(levels, best_three_views(levels, k), k) >= 2 * k + 2:
            best = k
    return best


def kruskal_identifiable(levels: list[int] | tuple[int, ...], k: int) -> IdentifiabilityReport:
    """Kruskal's condition for k sources over conditionally independent discrete proxies.

    Parameters
    ----------
    levels : list of int
        Number of observed levels of each proxy.
    k : int
        Number of latent sources.
    """
    levels = [int(v) for v in levels]
    max_k = largest_identifiable_k(levels)
    if k == 1:
        return IdentifiabilityReport("Kruskal three views", True, 1, max_k,
                                     "One source (no hidden confounder) is always identified.")
    if len(levels) < 3:
        detail = (f"k={k} sources need at least three conditionally independent proxies (three views); "
                  f"there are {len(levels)}.")
        return IdentifiabilityReport("Kruskal three views", False, int(k), max_k, detail)
    views = best_three_views(levels, k)
    cells = [int(np.prod([levels[i] for i in view])) for view in views]
    total = _kruskal_sum(levels, views, k)
    holds = total >= 2 * k + 2
    detail = (
        f"Best split of the {len(levels)} proxies into three views has {cells[0]}, {cells[1]} and {cells[2]} "
        f"joint cells; sum of min(k, cells) = {total} {'>=' if holds else '<'} 2k+2 = {2 * k + 2}, "
        f"so these proxies identify at most k={max_k}."
    )
    return IdentifiabilityReport("Kruskal three views", holds, int(k), max_k, detail, views)


def mix_prod_identifiable(levels: list[int] | tuple[int, ...], k: int) -> IdentifiabilityReport:
    """The k-MixProd condition for the moment (Jennrich) solver.

    Binary proxies: ``2k - 1 <= m`` (Gordon et al. 2021). For the three-view
    Jennrich algorithm used here two views must also have at least k joint
    cells each and the third at least two.
    """
    levels = [int(v) for v in levels]
    m = len(levels)
    all_binary = all(v == 2 for v in levels)
    views = best_three_views(levels, k) if m >= 3 else ()
    cells = sorted((int(np.prod([levels[i] for i in view])) for view in views), reverse=True)
    jennrich_ok = len(cells) == 3 and cells[0] >= k and cells[1] >= k and cells[2] >= 2
    if all_binary:
        counting_ok = 2 * k - 1 <= m
        holds = counting_ok and jennrich_ok
        max_k = max([kk for kk in range(1, 17) if 2 * kk - 1 <= m and _jennrich_ok(levels, kk)] or [1])
        detail = (
            f"k={k} sources need at least 2k-1 = {2 * k - 1} binary proxies and two of three views with "
            f">= k joint cells; there are {m} binary proxies, which identify at most k={max_k}."
        )
        return IdentifiabilityReport("2k-1 binary proxies", holds, int(k), max_k, detail, views)
    max_k = max([kk for kk in range(1, 17) if _jennrich_ok(levels, kk)] or [1])
    detail = (
        f"Jennrich's three-view solver needs two views with >= k={k} joint cells and a third with >= 2; "
        f"the best split has {cells if cells else 'fewer than three views'}, which identify at most k={max_k}."
    )
    return IdentifiabilityReport("Jennrich three views", jennrich_ok or k == 1, int(k), max_k, detail, views)


def _jennrich_ok(levels: list[int], k: int) -> bool:
    if k == 1:
        return True
    if len(levels) < 3:
        return False
    cells = sorted((int(np.prod([levels[i] for i in view])) for view in best_three_views(levels, k)), reverse=True)
    return cells[0] >= k and cells[1] >= k and cells[2] >= 2
