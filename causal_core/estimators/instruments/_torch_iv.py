"""Torch building blocks of the neural IV estimators (imported only when one runs).

* a mixture density network for the first stage ``T | Z, X`` (Bishop, 1994),
  from which treatments are sampled;
* a response network ``h(t, x)`` trained on those sampled treatments
  (DeepIV, Hartford et al. 2017), optionally through a representation of ``x``
  balanced against the treatment by an HSIC penalty (CB-IV, Wu et al. 2022).

All arrays handed in are already standardised; every random step draws from
one seeded ``torch.Generator`` so a fit is reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["TrainSettings", "fit_mixture_density", "fit_response", "ResponseModel"]


@dataclass(frozen=True)
class TrainSettings:
    """Network sizes and optimiser settings shared by both stages."""

    hidden_units: int = 32
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    n_components: int = 5
    n_draws: int = 8
    balance_weight: float = 0.0
    representation_units: int = 8


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, n_out))


def _batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


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
    inputs: torch.Tensor, t: torch.Tensor, settings: TrainSettings, generator: torch.Generator
) -> tuple[MixtureDensity, float]:
    """Fit the first stage by maximum likelihood; returns the network and its final mean log-likelihood."""
    model = MixtureDensity(inputs.shape[1], settings.hidden_units, settings.n_components).to(inputs.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                 foreach=True)
    for _ in range(settings.epochs):
        for idx in _batches(inputs.shape[0], settings.batch_size, generator, inputs.device):
            optimiser.zero_grad()
            loss = -model.log_likelihood(inputs[idx], t[idx]).mean()
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        final = float(model.log_likelihood(inputs, t).mean())
    return model, final


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


def fit_response(
    x: torch.Tensor,
    y: torch.Tensor,
    first_stage: MixtureDensity,
    first_stage_inputs: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
) -> ResponseModel:
    """Second stage: minimise (y - mean over sampled t of h(t, x))^2, plus the HSIC balance penalty for CB-IV."""
    with torch.no_grad():
        log_mix, means, scales = first_stage(first_stage_inputs)
    x_in = x if x.shape[1] else torch.zeros((x.shape[0], 1), device=x.device)
    model = ResponseModel(x.shape[1], settings).to(x.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                 foreach=True)
    for _ in range(settings.epochs):
        for idx in _batches(x.shape[0], settings.batch_size, generator, x.device):
            draws = _sample_mixture(log_mix[idx], means[idx], scales[idx], settings.n_draws, generator)
            features = model.features(x_in[idx])
            repeated = features.repeat(settings.n_draws, 1)
            predicted = model(draws.reshape(-1), repeated).reshape(settings.n_draws, -1).mean(dim=0)
            loss = (y[idx] - predicted).pow(2).mean()
            if model.balanced:
                loss = loss + settings.balance_weight * _hsic(features, draws[0][:, None])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return model


def response_surface(model: ResponseModel, x: torch.Tensor, t_values: np.ndarray) -> np.ndarray:
    """mean_i h(t, x_i) for every t in ``t_values`` (standardised scale)."""
    x_in = x if x.shape[1] else torch.zeros((x.shape[0], 1), device=x.device)
    with torch.no_grad():
        features = model.features(x_in)
        out = [float(model(torch.full((x.shape[0],), float(t), device=x.device), features).mean()) for t in t_values]
    return np.asarray(out)


def average_derivative(model: ResponseModel, x: torch.Tensor, t: torch.Tensor) -> float:
    """mean_i dh/dt at the observed (t_i, x_i), by automatic differentiation (standardised scale)."""
    x_in = x if x.shape[1] else torch.zeros((x.shape[0], 1), device=x.device)
    t_req = t.clone().requires_grad_(True)
    value = model(t_req, model.features(x_in)).sum()
    (grad,) = torch.autograd.grad(value, t_req)
    return float(grad.mean())


def predict_response(model: ResponseModel, t: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """h(t_i, x_i) row by row (standardised scale)."""
    x_in = x if x.shape[1] else torch.zeros((x.shape[0], 1), device=x.device)
    with torch.no_grad():
        return model(t, model.features(x_in)).cpu().numpy()
