"""k-MixProd by Jennrich's simultaneous diagonalisation of a three-way moment tensor.

The proxies are split into three views A, B, C; each view is coded as the
one-hot vector of its joint cell, so ``E[a | U = u] = mu_A[:, u]`` is the
view's conditional cell distribution and, by conditional independence,

    M_AB = E[a b^T] = mu_A diag(w) mu_B^T,
    M_ABC(eta) = E[(c . eta) a b^T] = mu_A diag(w * (mu_C^T eta)) mu_B^T.

After projecting onto the top-k singular subspaces of ``M_AB`` (whitening),
``M_ABC(eta) M_AB^{-1}`` has eigenvectors ``U^T mu_A`` and eigenvalues
``eta . mu_C[:, u]`` (Jennrich/Harshman; Anandkumar et al. 2014). ``mu_A`` fixes
the rest by linear solves: ``pinv(mu_A) M_AB = diag(w) mu_B^T`` and the same
for C or any other variable independent of A given U.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_core.core.errors import CausalInputError
from causal_core.core.seeds import check_seed
from causal_core.studies.mixtures.identifiability import IdentifiabilityReport, best_three_views, mix_prod_identifiable

__all__ = ["ProdFit", "fit_mix_prod_codes", "view_cells", "conditional_from_view", "fit_mix_prod"]

#: Most joint cells allowed in one view.
MAX_CELLS = 1024
#: Random projections tried; the one with the best-separated eigenvalues is kept.
N_PROJECTIONS = 20


@dataclass(frozen=True)
class ProdFit:
    """Sources recovered by the moment solver.

    Attributes
    ----------
    weights : ndarray (k,)
        Source weights.
    proxy_probs : tuple of ndarray (k, levels_j)
        P(proxy_j = level | U = u).
    views : tuple of tuple of int
        Proxy indices in views A, B, C.
    view_a_probs : ndarray (cells_A, k)
        Conditional cell distributions of view A (used to solve for other variables).
    eigen_separation : float
        Smallest gap between the eigenvalues of the chosen projection, relative to their spread.
    singular_ratio : float
        k-th over first singular value of ``M_AB`` (small: nearly rank deficient).
    warnings : tuple of str
    identifiability : IdentifiabilityReport
    """

    weights: np.ndarray
    proxy_probs: tuple[np.ndarray, ...]
    views: tuple[tuple[int, ...], ...]
    view_a_probs: np.ndarray
    eigen_separation: float
    singular_ratio: float
    warnings: tuple[str, ...]
    identifiability: IdentifiabilityReport


def view_cells(codes: np.ndarray, levels: tuple[int, ...] | list[int], view: tuple[int, ...]) -> np.ndarray:
    """(n, cells) one-hot of the joint cell of the proxies in ``view`` (mixed-radix index)."""
    index = np.zeros(codes.shape[0], dtype=int)
    cells = 1
    for j in view:
        index = index * levels[j] + codes[:, j]
        cells *= levels[j]
    out = np.zeros((codes.shape[0], cells))
    out[np.arange(codes.shape[0]), index] = 1.0
    return out


def _cell_marginals(view_probs: np.ndarray, levels: tuple[int, ...] | list[int], view: tuple[int, ...]
                    ) -> dict[int, np.ndarray]:
    """P(proxy_j = level | u) for each proxy of a view, from (cells, k) joint cell probabilities."""
    shape = [levels[j] for j in view] + [view_probs.shape[1]]
    tensor = view_probs.reshape(shape)
    out = {}
    for position, j in enumerate(view):
        axes = tuple(a for a in range(len(view)) if a != position)
        out[j] = tensor.sum(axis=axes).T  # (k, levels_j)
    return out


def conditional_from_view(view_a: np.ndarray, view_a_probs: np.ndarray, weights: np.ndarray,
                          features: np.ndarray, row_weights: np.ndarray | None = None) -> np.ndarray:
    """E[features | U = u] for variables independent of view A given U, by one linear solve.

    ``E[a f^T] = mu_A diag(w) E[f | U]^T``, so ``E[f | U]^T = diag(w)^-1 pinv(mu_A) E[a f^T]``.
    Returns a (k, q) array.
    """
    rw = np.ones(view_a.shape[0]) if row_weights is None else np.asarray(row_weights, dtype=float)
    rw = rw / rw.sum()
    cross = view_a.T @ (features * rw[:, None])
    solved = np.linalg.pinv(view_a_probs) @ cross
    return solved / np.maximum(weights, 1e-12)[:, None]


def _simplex_columns(matrix: np.ndarray) -> np.ndarray:
    clipped = np.clip(matrix, 0.0, None)
    sums = clipped.sum(axis=0, keepdims=True)
    sums[sums <= 0] = 1.0
    return clipped / sums


def fit_mix_prod_codes(
    codes: np.ndarray,
    levels: tuple[int, ...] | list[int],
    k: int,
    *,
    seed: int = 0,
    row_weights: np.ndarray | None = None,
    views: tuple[tuple[int, ...], ...] | None = None,
) -> ProdFit:
    """Recover k sources from conditionally independent discrete proxies by Jennrich's algorithm.

    Parameters
    ----------
    codes : ndarray (n, m) of int
        Level codes of the proxies.
    levels : sequence of int
        Levels of each proxy.
    k : int
        Number of sources.
    seed : int
        Seed of the random projections.
    row_weights : ndarray (n,), optional
        Counts of compressed rows.
    views : three tuples of proxy indices, optional
        The split into views A, B, C (default: the split maximising Kruskal's sum).

    Raises
    ------
    CausalInputError
        When the condition for k sources fails for these proxies.
    """
    levels = tuple(int(v) for v in levels)
    report = mix_prod_identifiable(levels, k)
    if not report.holds:
        raise CausalInputError(f"Option 'k'={k} is too large for the moment solver: {report.detail}")
    if views is None:
        views = best_three_views(levels, k)
    # A and B must be the two views with the most cells
    views = tuple(sorted(views, key=lambda v: -int(np.prod([levels[j] for j in v]))))
    for view in views:
        if int(np.prod([levels[j] for j in view])) > MAX_CELLS:
            raise CausalInputError(
                f"A view of the moment solver would have more than {MAX_CELLS} joint cells; use fewer proxies "
                "or solver='em'."
            )
    rw = np.ones(codes.shape[0]) if row_weights is None else np.asarray(row_weights, dtype=float)
    rw = rw / rw.sum()
    a, b, c = (view_cells(codes, levels, v) for v in views)
    warnings: list[str] = []
    if k == 1:
        weights = np.array([1.0])
        mu_a = (a * rw[:, None]).sum(axis=0)[:, None]
        separation, singular_ratio = 1.0, 1.0
    else:
        m_ab = a.T @ (b * rw[:, None])
        u_full, s_full, vt_full = np.linalg.svd(m_ab)
        singular_ratio = float(s_full[k - 1] / s_full[0])
        if singular_ratio < 1e-6:
            warnings.append(
                f"The second-moment matrix has rank below k={k} (singular value ratio {singular_ratio:.2g}); "
                "the data look like fewer sources."
            )
        u_k, v_k = u_full[:, :k], vt_full[:k].T
        whitened_inverse = np.linalg.pinv(u_k.T @ m_ab @ v_k)
        rng = np.random.default_rng(seed)
        best = None
        for _ in range(N_PROJECTIONS):
            eta = rng.standard_normal(c.shape[1])
            m_abc = a.T @ (b * (rw * (c @ eta))[:, None])
            values, vectors = np.linalg.eig(u_k.T @ m_abc @ v_k @ whitened_inverse)
            real = np.sort(values.real)
            spread = max(float(real[-1] - real[0]), 1e-300)
            separation = float(np.min(np.diff(real)) / spread)
            if best is None or separation > best[0]:
                best = (separation, values, vectors)
        separation, values, vectors = best
        if np.max(np.abs(values.imag)) > 1e-8 * max(np.max(np.abs(values.real)), 1e-12):
            warnings.append("Jennrich's eigenvalues came out complex (sampling noise or too many sources); "
                            "their real parts are used.")
        mu_a = u_k @ vectors.real
        mu_a = mu_a * np.sign(mu_a.sum(axis=0, keepdims=True) + 1e-300)
        mu_a = _simplex_columns(mu_a)
        diag_w_mu_b = np.linalg.pinv(mu_a) @ m_ab
        weights = np.clip(diag_w_mu_b.sum(axis=1), 1e-12, None)
        weights = weights / weights.sum()
        if separation < 1e-3:
            warnings.append(f"Eigenvalues nearly coincide (relative gap {separation:.2g}); two sources are hard "
                            "to tell apart, so the moment solution is unstable.")
    view_probs = [mu_a]
    for other in (b, c):
        solved = conditional_from_view(a, mu_a, weights, other, rw)
        view_probs.append(_simplex_columns(solved.T))
    marginals: dict[int, np.ndarray] = {}
    for view, probs in zip(views, view_probs):
        marginals.update(_cell_marginals(probs, levels, view))
    proxy_probs = tuple(marginals[j] for j in range(len(levels)))
    return ProdFit(weights=weights, proxy_probs=proxy_probs, views=views, view_a_probs=mu_a,
                   eigen_separation=float(separation), singular_ratio=float(singular_ratio),
                   warnings=tuple(warnings), identifiability=report)


def fit_mix_prod(df, columns: list[str], *, k: int = 2, seed: int = 0) -> ProdFit:
    """:func:`fit_mix_prod_codes` on discrete columns of a DataFrame (rows with missing values dropped)."""
    seed = check_seed(seed)
    from causal_core.studies.mixtures.encoding import encode_discrete_frame

    codes, levels, _ = encode_discrete_frame(df, columns)
    return fit_mix_prod_codes(codes, levels, k, seed=seed)
