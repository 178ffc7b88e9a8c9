"""TARNet and CFR: a shared representation of the covariates with one outcome head per arm.

The network ``Phi(x)`` feeds two heads ``h0, h1``; it is trained on the
factual outcomes only (mean squared error on the standardised outcome, each
row through its own arm's head). With ``cfr_penalty`` alpha > 0 the loss adds
alpha times an integral probability metric between the treated and control
representations (CFR, Shalit, Johansson & Sontag 2017): the linear MMD
``||mean Phi_1 - mean Phi_0||^2`` or an entropic (Sinkhorn) Wasserstein distance.

Unit effects are ``h1(Phi(x)) - h0(Phi(x))``. The average effect is, by default,
the augmented IPW estimate with the network's heads as outcome models and a
logit propensity (``dr_correction``), with its influence-function standard
error; the heads are fitted in-sample, so the standard error can be a little
optimistic. torch is imported only inside the functions that train.

Training: by default a seeded 20% of the rows is held out, the factual loss on
it is checked after every epoch, training stops 10 epochs after it last
improved and the best epoch's weights are kept (predictions then cover every
row). Batch size and the epoch cap follow the number of training rows unless
given. A CUDA device is used when one is present.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.data import PreparedData
from causal_core.core.errors import CausalInputError
from causal_core.core.limits import MethodLimits
from causal_core.core.registry import OptionSpec, register
from causal_core.core.results import MethodOutput
from causal_core.estimators._aipw import aipw_effect
from causal_core.estimators._torch_runtime import (EarlyStopping, auto_batch_size, auto_max_epochs, seeded_torch,
                                                  torch_device, validation_split)
from causal_core.inference import InfluenceFunction
from causal_core.nuisance.models import MODEL_CHOICES, fit_propensity, overlap_warnings, resolve_model

__all__ = ["tarnet", "fit_tarnet"]

IPMS = ("mmd_linear", "wasserstein")
PS_FLOOR = 0.01
VALIDATION_FRACTION = 0.2
PATIENCE = 10


def _sinkhorn(a: Any, b: Any, *, epsilon: float = 0.1, iterations: int = 30) -> Any:
    """Entropic optimal-transport cost between two point clouds with uniform weights (Cuturi 2013)."""
    import torch

    cost = torch.cdist(a, b) ** 2
    scale = cost.detach().mean().clamp_min(1e-8)
    kernel_log = -cost / (epsilon * scale)
    log_u = torch.zeros(a.shape[0], device=a.device)
    log_v = torch.zeros(b.shape[0], device=a.device)
    log_a = torch.full((a.shape[0],), -np.log(a.shape[0]), device=a.device)
    log_b = torch.full((b.shape[0],), -np.log(b.shape[0]), device=a.device)
    for _ in range(iterations):
        log_u = log_a - torch.logsumexp(kernel_log + log_v[None, :], dim=1)
        log_v = log_b - torch.logsumexp(kernel_log + log_u[:, None], dim=0)
    plan = torch.exp(log_u[:, None] + kernel_log + log_v[None, :])
    return torch.sum(plan * cost)


def fit_tarnet(
    X: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    hidden_units: int = 32,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float = 5e-3,
    weight_decay: float = 1e-4,
    cfr_penalty: float = 0.0,
    ipm: str = "mmd_linear",
    device: str = "auto",
    early_stopping: bool = True,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str]:
    """Train TARNet (or CFR when ``cfr_penalty`` > 0) and predict both potential outcomes for every row.

    ``epochs`` (the cap under early stopping) and ``batch_size`` of ``None``
    follow the number of training rows. Returns ``(mu0, mu1, history,
    device)``; ``history`` has one row per epoch with the factual loss, the IPM
    between the arms' representations and, under early stopping, the
    validation factual loss and whether the epoch is the one kept (``best``).
    """
    import torch
    from torch import nn

    dev = torch_device(device, method="tarnet")
    x_mean, x_sd = X.mean(axis=0), X.std(axis=0)
    x_sd[x_sd == 0] = 1.0
    y_mean, y_sd = float(y.mean()), float(y.std()) or 1.0

    def tensor(a: np.ndarray) -> Any:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)

    Xs, ys, ts = tensor((X - x_mean) / x_sd), tensor((y - y_mean) / y_sd), tensor(t)
    n, p = Xs.shape
    with seeded_torch(seed):
        generator = torch.Generator().manual_seed(seed)
        train_rows, valid_rows = (rows.to(dev) for rows in
                                  validation_split(n, VALIDATION_FRACTION, generator, enabled=early_stopping))
        batch_size = batch_size or auto_batch_size(train_rows.numel())
        epochs = epochs or auto_max_epochs(train_rows.numel(), batch_size)
        representation = nn.Sequential(nn.Linear(p, hidden_units), nn.ELU(),
                                       nn.Linear(hidden_units, hidden_units), nn.ELU()).to(dev)
        heads = nn.ModuleList([nn.Sequential(nn.Linear(hidden_units, hidden_units), nn.ELU(),
                                             nn.Linear(hidden_units, 1)) for _ in range(2)]).to(dev)
        network = nn.ModuleList([representation, heads])
        optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate, weight_decay=weight_decay)
        stopper = EarlyStopping(network, PATIENCE) if valid_rows.numel() else None

        def factual(rows: Any) -> tuple[Any, Any]:
            phi, tb = representation(Xs[rows]), ts[rows]
            prediction = torch.where(tb == 1, heads[1](phi).squeeze(1), heads[0](phi).squeeze(1))
            return torch.mean((prediction - ys[rows]) ** 2), phi

        history = []
        n_train = train_rows.numel()
        for epoch in range(epochs):
            order = train_rows[torch.randperm(n_train, generator=generator).to(dev)]
            total, total_ipm = 0.0, 0.0
            for start in range(0, n_train, batch_size):
                rows = order[start:start + batch_size]
                loss, phi = factual(rows)
                treated = ts[rows] == 1
                distance = torch.zeros((), device=dev)
                if cfr_penalty > 0 and 1 < int(treated.sum()) < rows.numel() - 1:
                    a, b = phi[treated], phi[~treated]
                    distance = (torch.sum((a.mean(0) - b.mean(0)) ** 2) if ipm == "mmd_linear"
                                else _sinkhorn(a, b))
                optimiser.zero_grad()
                (loss + cfr_penalty * distance).backward()
                optimiser.step()
                total += float(loss) * rows.numel()
                total_ipm += float(distance) * rows.numel()
            row = {"epoch": epoch + 1, "factual_mse": total / n_train, "ipm": total_ipm / n_train}
            if stopper is not None:
                with torch.no_grad():
                    row["validation_mse"] = float(factual(valid_rows)[0])
                stop = stopper.step(row["validation_mse"])
            history.append(row)
            if stopper is not None and stop:
                break
        if stopper is not None:
            stopper.restore()
        frame = pd.DataFrame(history)
        frame["best"] = frame["epoch"] == (stopper.best_epoch if stopper is not None else len(history))
        with torch.no_grad():
            phi = representation(Xs)
            mu0 = heads[0](phi).squeeze(1).cpu().numpy().astype(float) * y_sd + y_mean
            mu1 = heads[1](phi).squeeze(1).cpu().numpy().astype(float) * y_sd + y_mean
    return mu0, mu1, frame, str(dev)


@register(
    id="tarnet",
    label="TARNet / CFR (neural CATE)",
    family="Heterogeneity",
    required_roles=("confounders",),
    estimands=("ATE", "ATT", "ATC"),
    summary="A neural network with a shared covariate representation and one outcome head per arm; with a "
            "CFR penalty the representation is balanced between arms.",
    reference="Shalit, Johansson & Sontag (2017), ICML, 'Estimating individual treatment effect: "
              "generalization bounds and algorithms'.",
    needs_torch=True,
    options=(
        OptionSpec("cfr_penalty", "float", 0.0, "Weight alpha of the representation balance penalty (0 = TARNet).",
                   low=0.0, high=100.0),
        OptionSpec("ipm", "choice", "mmd_linear", "Distance between treated and control representations.",
                   choices=IPMS),
        OptionSpec("epochs", "int", None, "Most passes over the data.", low=1, high=5000,
                   none_means="chosen by data size (about 3,000 gradient steps, 30 to 200 epochs)"),
        OptionSpec("early_stopping", "bool", True,
                   "Hold out 20% of the rows and stop 10 epochs after their factual loss last improved."),
        OptionSpec("hidden_units", "int", 32, "Width of every hidden layer.", low=2, high=1024),
        OptionSpec("learning_rate", "float", 5e-3, "Adam learning rate.", low=1e-5, high=1.0),
        OptionSpec("batch_size", "int", None, "Rows per gradient step.", low=8, high=100_000,
                   none_means="chosen by data size (a twentieth of the training rows, 64 to 512)"),
        OptionSpec("dr_correction", "bool", True,
                   "Average effect by augmented IPW with the network's heads (else the plug-in mean)."),
        OptionSpec("propensity_model", "model", None, "Classifier for P(T=1|X) in the DR correction; default the logit.",
                   choices=MODEL_CHOICES, learner="classifier"),
        OptionSpec("device", "choice", "auto", "'auto' uses CUDA when available, else the CPU.",
                   choices=("auto", "cpu", "cuda")),
    ),
    limits=MethodLimits(min_rows_per_arm=10, needs_overlap=True, reports_overlap=True, high_dimensional="trains a neural network with weight decay, so it still runs, but nothing guarantees identification."),
    gives_unit_effects=True, explores_heterogeneity=True, order=230,
    cheap_test_options=(("epochs", 30), ("hidden_units", 16)),
)
def tarnet(
    data: PreparedData,
    *,
    estimand: str,
    seed: int,
    cfr_penalty: float = 0.0,
    ipm: str = "mmd_linear",
    epochs: int | None = None,
    early_stopping: bool = True,
    hidden_units: int = 32,
    learning_rate: float = 5e-3,
    batch_size: int | None = None,
    dr_correction: bool = True,
    propensity_model: Any = None,
    device: str = "auto",
) -> MethodOutput:
    """TARNet/CFR unit effects and an average effect with an influence-function standard error.

    Parameters
    ----------
    data : PreparedData
    estimand : {"ATE", "ATT", "ATC"}
    seed : int
        Seeds the initial weights and the batch order.
    cfr_penalty : float
        IPM weight alpha (0 gives TARNet).
    ipm : {"mmd_linear", "wasserstein"}
    epochs, hidden_units, learning_rate, batch_size
        Training settings; ``epochs`` and ``batch_size`` of None follow the data size.
    early_stopping : bool
        Stop on a 20% validation split and keep the best epoch's weights.
    dr_correction : bool
        True: augmented IPW with the heads as outcome models; False: mean of
        the unit effects over the target rows (same standard error, then only approximate).
    propensity_model : None, str or scikit-learn classifier
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    MethodOutput
        ``unit_effects``; diagnostics ``plug_in_estimate``, ``training`` (loss per epoch), ``best_epoch``
        (the epoch whose weights are kept), ``device``.
    """
    ps_model = resolve_model(propensity_model, option="propensity_model", method="tarnet", kind="classifier", seed=seed)
    X = data.X if data.X.shape[1] else np.zeros((data.n, 1))
    mu0, mu1, history, used_device = fit_tarnet(
        X, data.t, data.y, seed=seed, hidden_units=int(hidden_units), epochs=None if epochs is None else int(epochs),
        batch_size=None if batch_size is None else int(batch_size), learning_rate=float(learning_rate),
        cfr_penalty=float(cfr_penalty), ipm=ipm, device=device, early_stopping=bool(early_stopping))
    if not (np.all(np.isfinite(mu0)) and np.all(np.isfinite(mu1))):
        raise CausalInputError("Method 'tarnet' diverged (non-finite predictions); lower 'learning_rate'.")
    effects = mu1 - mu0
    ps = fit_propensity(data.X, data.t, data.covariate_names, ps_model)
    warnings = overlap_warnings(ps, data.t)
    ps_used = np.clip(ps, PS_FLOOR, 1 - PS_FLOOR)
    dr_estimate, influence = aipw_effect(data.y, data.t, ps_used, mu1, mu0, estimand)
    target = {"ATE": np.ones(data.n, dtype=bool), "ATT": data.t == 1, "ATC": data.t == 0}[estimand]
    plug_in = float(effects[target].mean())
    warnings.append(
        "The standard error is the augmented-IPW influence function with the network's heads fitted in-sample; "
        "it ignores the network's own variability and can be optimistic."
        + ("" if dr_correction else " The reported estimate is the plug-in mean, which can be biased by "
                                     "regularisation; this interval is only approximate for it.")
    )
    return MethodOutput(
        estimate=dr_estimate if dr_correction else plug_in,
        inference=InfluenceFunction(
            influence, detail="augmented-IPW influence function (network heads as outcome models, in-sample)"),
        unit_effects=effects,
        diagnostics={
            "plug_in_estimate": plug_in,
            "dr_estimate": dr_estimate,
            "training": history,
            "final_factual_mse": float(history.loc[history["best"], "factual_mse"].iloc[0]),
            "best_epoch": int(history.loc[history["best"], "epoch"].iloc[0]),
            "device": used_device,
            "propensity": ps,
        },
        warnings=tuple(warnings),
    )
