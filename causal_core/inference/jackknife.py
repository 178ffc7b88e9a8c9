"""Jackknife covariance of a stacked M-estimator, each leave-one-out fit taken as one Newton step.

For an estimator solving ``sum_i psi_i(theta) = 0`` with per-row Jacobians
``J_i = d psi_i / d theta'`` and ``A = sum_i J_i``, dropping row ``i`` and taking one
Newton step from the full-sample solution gives

    theta_(-i) - theta_hat = (A - J_i)^{-1} psi_i(theta_hat),

exact for least squares (where it is the HC3 correction) and close to the
refit otherwise. The sandwich uses ``A^{-1} psi_i`` instead, which
understates the pull of rows with high leverage, such as recorded rows with
a large inverse selection weight; the jackknife variance keeps it and is
conservative in expectation (Efron & Stein 1981).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["one_step_jackknife", "jackknife_cov"]

#: Rows per batch of (K, K) solves, bounding memory at CHUNK * K^2 floats.
CHUNK = 4096


def one_step_jackknife(
    psi: np.ndarray, row_jacobians: Callable[[np.ndarray], np.ndarray], *, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out changes ``theta_(-i) - theta_hat`` (n, K), one Newton step each, and ``A``.

    Parameters
    ----------
    psi : ndarray (n, K)
        Estimating functions of every row at the full-sample solution.
    row_jacobians : callable
        ``row_jacobians(rows)`` returns the Jacobians ``d psi_i / d theta'`` of
        the given rows, shape (len(rows), K, K).
    chunk : int
        Rows per batch.

    Returns
    -------
    deltas : ndarray (n, K)
        Where ``A - J_i`` is singular (row ``i`` alone identifies a parameter)
        its pseudo-inverse is used.
    jacobian_sum : ndarray (K, K)
        ``A``, from which the sandwich ``A^-1 (sum psi psi') A^-T`` follows.
    """
    n, k = psi.shape
    batches = [np.arange(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    total = np.zeros((k, k))
    for rows in batches:
        total += row_jacobians(rows).sum(axis=0)
    deltas = np.empty((n, k))
    for rows in batches:
        without = total[None] - row_jacobians(rows)
        try:
            deltas[rows] = np.linalg.solve(without, psi[rows][:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            deltas[rows] = (np.linalg.pinv(without) @ psi[rows][:, :, None])[:, :, 0]
    return deltas, total


def jackknife_cov(deltas: np.ndarray) -> np.ndarray:
    """Jackknife covariance ``(n - 1)/n * sum_i (d_i - mean d)(d_i - mean d)'`` of leave-one-out changes."""
    n = deltas.shape[0]
    centred = deltas - deltas.mean(axis=0)
    return (n - 1) / n * centred.T @ centred
