"""Torch building blocks of the neural IV estimators (imported only when one runs).

* a mixture density network for the first stage ``T | Z, X`` (Bishop, 1994),
  from which treatments are sampled;
* a response network ``h(t, x)`` trained on those sampled treatments
  (DeepIV, Hartford et al. 2017), optionally through a representation of ``x``
  balanced against the treatment by an HSIC penalty (CB-IV, Wu et al. 2022).

Each stage trains with Adam and, unless told otherwise, stops early: a seeded
validation split of the rows is held out, the validation loss (negative
log-likelihood for the first stage, the DeepIV loss for the second) is
checked after every epoch, the learning rate is halved after ``patience // 3``
epochs without improvement, training stops after ``patience`` epochs without
improvement and the best epoch's weights are kept.

All arrays handed in are already standardised; every random step draws from
one seeded ``torch.Generator`` so a fit is reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from causal_core.estimators._torch_runtime import EarlyStopping, auto_batch_size, auto_max_epochs

__all__ = ["TrainSettings", "fit_mixture_density", "fit_response", "unbiased_squared_error", "ResponseModel", "sieve_parts",
           "sieve_influence"]


@dataclass(frozen=True)
class TrainSettings:
    """Network sizes and optimiser settings shared by both stages.

    ``epochs`` and ``batch_size`` of ``None`` are chosen from the number of
    training rows (:func:`auto_max_epochs`, :func:`auto_batch_size`). With
    ``early_stopping`` a ``validation_fraction`` of the rows is held out and
    ``epochs`` is the most a stage may train; without it every row trains for
    exactly ``epochs`` epochs.
    """

    hidden_units: int = 32
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    n_components: int = 5
    n_draws: int = 8
    balance_weight: float = 0.0
    representation_units: int = 8
    early_stopping: bool = True
    validation_fraction: float = 0.2
    patience: int = 10

    def resolved(self, n_train: int) -> "TrainSettings":
        """These settings with ``batch_size`` and ``epochs`` fixed for ``n_train`` training rows.

        ``patience`` grows to cover at least :data:`MIN_PATIENCE_STEPS` gradient
        steps, so that large batches (few steps an epoch) do not stop at once.
        """
        batch = self.batch_size or auto_batch_size(n_train)
        epochs = self.epochs or auto_max_epochs(n_train, batch)
        patience = max(self.patience, math.ceil(MIN_PATIENCE_STEPS / math.ceil(n_train / batch)))
        return TrainSettings(**{**self.__dict__, "batch_size": batch, "epochs": epochs, "patience": patience})


#: Fewest gradient steps early stopping waits for an improvement.
MIN_PATIENCE_STEPS = 500
#: First-stage treatments drawn once per validation row for the second stage's validation loss.
VALIDATION_DRAWS = 32


def _train(model: nn.Module, n_train_rows: torch.Tensor, batch_loss: Callable[[torch.Tensor], torch.Tensor],
           valid_loss: Callable[[], float] | None, settings: TrainSettings, generator: torch.Generator) -> int:
    """Adam over mini-batches of ``n_train_rows``, early-stopped on ``valid_loss``; returns the epochs run."""
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                 foreach=True)
    device = n_train_rows.device
    stopper = EarlyStopping(model, settings.patience) if valid_loss is not None else None
    schedule = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=settings.patience // 3)
                if stopper is not None else None)
    epochs_run = 0
    for _ in range(settings.epochs):
        epochs_run += 1
        order = n_train_rows[torch.randperm(n_train_rows.numel(), generator=generator).to(device)]
        for start in range(0, order.numel(), settings.batch_size):
            loss = batch_loss(order[start:start + settings.batch_size])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if stopper is not None:
            model.eval()
            with torch.no_grad():
                loss = valid_loss()
            stop = stopper.step(loss)
            schedule.step(loss)
            model.train()
            if stop:
                break
    if stopper is not None:
        stopper.restore()
    model.eval()
    return epochs_run


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, n_out))


class MixtureDensity(nn.Module):
    """p(t | inputs) as a mixture of ``k`` Gaussians whose weights, means and scales are network outputs."""

    def __init__(self, n_in: int, hidden: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.body = _mlp(n_in, 3 * k, hidden)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.body(inputs)
        log_mix = torch.log_softmax(out[:, : self.k], dim=1)
        means = out[:, self.k: 2 * self.k]
        scales = nn.functional.softplus(out[:, 2 * self.k:]) + 1e-3
        return log_mix, means, scales

    def log_likelihood(self, inputs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        log_mix, means, scales = self(inputs)
        component = torch.distributions.Normal(means, scales).log_prob(t[:, None])
        return torch.logsumexp(log_mix + component, dim=1)


def fit_mixture_density(
    inputs: torch.Tensor, t: torch.Tensor, settings: TrainSettings, generator: torch.Generator,
    split: tuple[torch.Tensor, torch.Tensor],
) -> tuple[MixtureDensity, float, int]:
    """Fit the first stage by maximum likelihood.

    Returns the network, its mean log-likelihood over all rows and the epochs it trained.
    """
    model = MixtureDensity(inputs.shape[1], settings.hidden_units, settings.n_components).to(inputs.device)
    train_rows, valid_rows = (rows.to(inputs.device) for rows in split)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        return -model.log_likelihood(inputs[idx], t[idx]).mean()

    def valid_loss() -> float:
        return float(batch_loss(valid_rows))

    epochs = _train(model, train_rows, batch_loss, valid_loss if valid_rows.numel() else None, settings, generator)
    with torch.no_grad():
        final = float(model.log_likelihood(inputs, t).mean())
    return model, final, epochs


def _sample_mixture(log_mix, means, scales, n_draws: int, generator: torch.Generator) -> torch.Tensor:
    """(n_draws, n) treatments drawn from each row's mixture."""
    n = means.shape[0]
    probs = log_mix.exp().cpu()
    component = torch.multinomial(probs, n_draws, replacement=True, generator=generator).T.to(means.device)
    noise = torch.randn((n_draws, n), generator=generator).to(means.device)
    rows = torch.arange(n, device=means.device)
    return means[rows, component] + scales[rows, component] * noise


def _hsic(a: torch.Tensor, b: torch.Tensor, max_rows: int = 256) -> torch.Tensor:
    """Biased HSIC estimate with Gaussian kernels (median-distance bandwidths) on at most ``max_rows`` rows.

    Uses trace(K H L H) = sum(centred(K) * L), which costs O(m^2) instead of a matrix product.
    """
    a, b = a[:max_rows], b[:max_rows]
    m = a.shape[0]

    def gram(v: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(v, v).pow(2)
        bandwidth = d2.detach().median().clamp_min(1e-6)
        return torch.exp(-d2 / bandwidth)

    k = gram(a)
    centred = k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()
    return (centred * gram(b)).sum() / (m - 1) ** 2


class ResponseModel(nn.Module):
    """h(t, x): a network of the treatment and the covariates, optionally through a representation phi(x)."""

    def __init__(self, n_x: int, settings: TrainSettings) -> None:
        super().__init__()
        self.balanced = settings.balance_weight > 0
        if self.balanced:
            self.representation = nn.Sequential(
                nn.Linear(max(n_x, 1), settings.hidden_units), nn.ELU(),
                nn.Linear(settings.hidden_units, settings.representation_units), nn.ELU(),
            )
            n_head = 1 + settings.representation_units
        else:
            n_head = 1 + n_x
        self.head = _mlp(n_head, 1, settings.hidden_units)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.representation(x) if self.balanced else x

    def forward(self, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([t[:, None], features], dim=1)).squeeze(1)


def unbiased_squared_error(y: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Mean over rows of an unbiased estimate of (y_i - E_T h(T, x_i))^2 from ``D >= 2`` draws ``responses`` (D, n).

    Squaring the mean of D draws, (y - mean_d h_d)^2, overestimates it by
    Var_T(h) / D, a penalty on how much h varies with the treatment that pulls
    the average derivative towards zero; with a weak instrument (little of the
    treatment's variance moved by Z, as Card's binary college proximity) the
    pull dominates. Averaging the products (y - h_d)(y - h_e) over pairs of
    distinct draws d != e removes it (Hartford et al. 2017, section 3: two
    independent samples for an unbiased gradient).
    """
    residuals = y[None, :] - responses
    d = residuals.shape[0]
    if d < 2:
        raise ValueError("unbiased_squared_error needs at least 2 draws per row.")
    total = residuals.sum(dim=0)
    pairs = total.pow(2) - residuals.pow(2).sum(dim=0)
    return (pairs / (d * (d - 1))).mean()


def fit_response(
    x: torch.Tensor,
    y: torch.Tensor,
    first_stage: MixtureDensity,
    first_stage_inputs: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
    split: tuple[torch.Tensor, torch.Tensor],
) -> tuple[ResponseModel, int]:
    """Second stage: minimise (y - E_T h(T, x))^2 over first-stage draws of T, plus the HSIC penalty for CB-IV.

    The squared error is estimated without bias (:func:`unbiased_squared_error`).

    Returns the network and the epochs it trained (early stopping watches the
    validation DeepIV loss without the penalty).
    """
    with torch.no_grad():
        log_mix, means, scales = first_stage(first_stage_inputs)
    x_in = _x_input(x)
    model = ResponseModel(x.shape[1], settings).to(x.device)
    train_rows, valid_rows = (rows.to(x.device) for rows in split)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        draws = _sample_mixture(log_mix[idx], means[idx], scales[idx], settings.n_draws, generator)
        features = model.features(x_in[idx])
        repeated = features.repeat(settings.n_draws, 1)
        responses = model(draws.reshape(-1), repeated).reshape(settings.n_draws, -1)
        loss = unbiased_squared_error(y[idx], responses)
        if model.balanced:
            loss = loss + settings.balance_weight * _hsic(features, draws[0][:, None])
        return loss

    valid_draws = (_sample_mixture(log_mix[valid_rows], means[valid_rows], scales[valid_rows], VALIDATION_DRAWS,
                                   generator) if valid_rows.numel() else None)

    def valid_loss() -> float:
        """The DeepIV loss without the balance penalty, on draws fixed once so that epochs compare."""
        features = model.features(x_in[valid_rows]).repeat(VALIDATION_DRAWS, 1)
        responses = model(valid_draws.reshape(-1), features).reshape(VALIDATION_DRAWS, -1)
        return float(unbiased_squared_error(y[valid_rows], responses))

    epochs = _train(model, train_rows, batch_loss, valid_loss if valid_rows.numel() else None, settings, generator)
    return model, epochs


def _x_input(x: torch.Tensor) -> torch.Tensor:
    return x if x.shape[1] else torch.zeros((x.shape[0], 1), device=x.device)


def response_surface(model: ResponseModel, x: torch.Tensor, t_values: np.ndarray) -> np.ndarray:
    """mean_i h(t, x_i) for every t in ``t_values`` (standardised scale)."""
    x_in = _x_input(x)
    with torch.no_grad():
        features = model.features(x_in)
        out = [float(model(torch.full((x.shape[0],), float(t), device=x.device), features).mean()) for t in t_values]
    return np.asarray(out)


def average_derivative(model: ResponseModel, x: torch.Tensor, t: torch.Tensor) -> float:
    """mean_i dh/dt at the observed (t_i, x_i), by automatic differentiation (standardised scale)."""
    x_in = _x_input(x)
    t_req = t.clone().requires_grad_(True)
    value = model(t_req, model.features(x_in)).sum()
    (grad,) = torch.autograd.grad(value, t_req)
    return float(grad.mean())


def predict_response(model: ResponseModel, t: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """h(t_i, x_i) row by row (standardised scale)."""
    x_in = _x_input(x)
    with torch.no_grad():
        return model(t, model.features(x_in)).cpu().numpy()


def _last_hidden(model: ResponseModel, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """The response head's last hidden layer with a column of ones: h = basis @ [w, b]."""
    hidden = model.head[:-1](torch.cat([t[:, None], features], dim=1))
    return torch.cat([hidden, torch.ones((hidden.shape[0], 1), device=hidden.device)], dim=1)


def sieve_parts(model: ResponseModel, x: torch.Tensor, t: torch.Tensor, first_stage: MixtureDensity,
                first_stage_inputs: torch.Tensor, grid: np.ndarray, generator: torch.Generator,
                n_draws: int = 64) -> dict[str, np.ndarray]:
    """What the sieve sandwich standard error needs, on the standardised scale (see :func:`sieve_influence`).

    ``basis_bar`` (n, k): the last-layer basis averaged over ``n_draws``
    first-stage treatments of each row; ``fitted`` (n,): h(t_i, x_i);
    ``slope_terms`` (n,) and ``slope_direction`` (k,): dh/dt at the observed
    rows and the mean derivative of the basis; ``curve_terms`` (n, G) and
    ``curve_directions`` (G, k): h(t_g, x_i) and the mean basis at each grid value.
    """
    features = model.features(_x_input(x)).detach()
    weights = torch.cat([model.head[-1].weight[0], model.head[-1].bias]).detach()
    with torch.no_grad():
        log_mix, means, scales = first_stage(first_stage_inputs)
        draws = _sample_mixture(log_mix, means, scales, n_draws, generator)
        basis_bar = sum(_last_hidden(model, draws[d], features) for d in range(n_draws)) / n_draws
        basis = _last_hidden(model, t, features)
        curve_basis = [_last_hidden(model, torch.full_like(t, float(g)), features) for g in grid]
    _, d_basis = torch.func.jvp(lambda t_in: _last_hidden(model, t_in, features), (t,), (torch.ones_like(t),))
    d_basis = d_basis.detach()

    def np_(a: torch.Tensor) -> np.ndarray:
        return a.cpu().numpy().astype(float)

    return {
        "basis_bar": np_(basis_bar),
        "fitted": np_(basis @ weights),
        "slope_terms": np_(d_basis @ weights),
        "slope_direction": np_(d_basis.mean(dim=0)),
        "curve_terms": np.stack([np_(b @ weights) for b in curve_basis], axis=1),
        "curve_directions": np.stack([np_(b.mean(dim=0)) for b in curve_basis]),
    }


def sieve_influence(basis_bar: np.ndarray, residual: np.ndarray, direction: np.ndarray, terms: np.ndarray,
                    ridge: float) -> np.ndarray:
    """Influence values of ``mean_i terms_i`` when the output weights are a 2SLS fit on a fixed basis.

    With the hidden layers held fixed, h(t, x) = basis(t, x) @ theta and the
    second stage is least squares of y on ``basis_bar`` (the basis averaged over
    the first-stage treatments): a linear IV fit whose sandwich gives
    ``psi_i = direction' M^-1 basis_bar_i residual_i + (terms_i - mean terms)``,
    with ``M = basis_bar' basis_bar / n + ridge I`` (the Hessian of the
    penalised loss), ``residual_i = y_i - h(t_i, x_i)`` the structural residual
    (as in 2SLS, not the second-stage one) and ``direction`` the derivative of
    the functional in theta. ``direction`` and ``terms`` may carry a trailing
    axis for several functionals at once (then ``psi`` is (n, G)).
    """
    n, k = basis_bar.shape
    hessian = basis_bar.T @ basis_bar / n + ridge * np.eye(k)
    scores = basis_bar * residual[:, None]  # (n, k)
    solved = np.linalg.lstsq(hessian, np.atleast_2d(direction).T, rcond=None)[0]  # (k, G)
    terms = terms.reshape(n, -1)
    psi = scores @ solved + (terms - terms.mean(axis=0))
    return psi[:, 0] if np.ndim(direction) == 1 else psi
