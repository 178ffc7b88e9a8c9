"""Torch run-time settings shared by the neural estimators (TARNet, DeepIV, CB-IV); torch is imported only when one runs."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from causal_core.core.errors import CausalInputError

__all__ = ["seeded_torch", "torch_device"]


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Seed torch, use deterministic kernels and one CPU thread, restoring the global state afterwards."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.set_num_threads(1)  # tiny networks: threads only add contention
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def torch_device(choice: str, *, method: str) -> Any:
    """The torch device for option ``device`` (``"auto"``, ``"cpu"`` or ``"cuda"``) of ``method``."""
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise CausalInputError(
            f"The 'device' option of method '{method}' is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'."
        )
    return torch.device("cuda" if choice != "cpu" and torch.cuda.is_available() else "cpu")
