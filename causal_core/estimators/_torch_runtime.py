"""Torch run-time settings shared by the neural estimators (TARNet, DeepIV, CB-IV); torch is imported only when one runs.

Besides seeding and the device, the training rules they share: batch size and
epoch cap chosen by the number of training rows, a seeded validation split and
early stopping that keeps the best validation epoch's weights.
"""
from __future__ import annotations

import contextlib
import copy
import math
from typing import Any, Iterator

from causal_core.core.errors import CausalInputError

__all__ = ["seeded_torch", "torch_device", "TARGET_STEPS", "auto_batch_size", "auto_max_epochs", "validation_split",
           "EarlyStopping"]

#: Gradient steps a network may take when its epochs are chosen by data size (early stopping usually ends sooner).
TARGET_STEPS = 3000


def auto_batch_size(n_train: int) -> int:
    """About 20 steps an epoch: ``n_train // 20`` rows, between 64 and 512."""
    return int(min(max(n_train // 20, 64), 512))


def auto_max_epochs(n_train: int, batch_size: int) -> int:
    """Epoch cap worth about :data:`TARGET_STEPS` gradient steps, between 30 and 200 epochs."""
    steps_per_epoch = math.ceil(n_train / batch_size)
    return int(min(max(math.ceil(TARGET_STEPS / steps_per_epoch), 30), 200))


def validation_split(n: int, fraction: float, generator: Any, *, enabled: bool = True) -> tuple[Any, Any]:
    """Seeded (train, validation) row indices with ``round(fraction * n)`` (at least 1) validation rows.

    Without ``enabled`` every row trains and none validates.
    """
    import torch

    if not enabled:
        return torch.arange(n), torch.arange(0)
    n_valid = max(int(round(fraction * n)), 1)
    order = torch.randperm(n, generator=generator)
    return order[n_valid:], order[:n_valid]


class EarlyStopping:
    """Keeps the weights of the best validation epoch and says when ``patience`` epochs passed without a gain."""

    def __init__(self, model: Any, patience: int) -> None:
        self.model, self.patience = model, patience
        self.best, self.best_state, self.since_best, self.best_epoch, self.epochs = math.inf, None, 0, 0, 0

    def step(self, loss: float) -> bool:
        """Record one epoch's validation loss; True when training should stop."""
        self.epochs += 1
        if self.best_state is None or loss < self.best - 1e-6 * abs(self.best):
            self.best, self.since_best, self.best_epoch = loss, 0, self.epochs
            self.best_state = copy.deepcopy(self.model.state_dict())
        else:
            self.since_best += 1
        return self.since_best >= self.patience

    def restore(self) -> None:
        """Load the best epoch's weights back into the model."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Seed torch, use deterministic kernels and one CPU thread, restoring the global state afterwards."""
    import torch

    threads = torch.get_num_threads()
    cuda = torch.cuda.is_available()
    deterministic = torch.are_deterministic_algorithms_enabled()
    devices = [torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.set_num_threads(1)  # tiny networks: threads only add contention
        # The flag selects deterministic CUDA kernels; on one CPU thread the kernels are deterministic already,
        # and setting it imports torch's compiler stack (1.8 s on the first call), so it is set only with CUDA.
        if cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            if cuda:
                torch.use_deterministic_algorithms(deterministic)


def torch_device(choice: str, *, method: str) -> Any:
    """The torch device for option ``device`` (``"auto"``, ``"cpu"`` or ``"cuda"``) of ``method``."""
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise CausalInputError(
            f"The 'device' option of method '{method}' is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'."
        )
    return torch.device("cuda" if choice != "cpu" and torch.cuda.is_available() else "cpu")
