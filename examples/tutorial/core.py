"""A one-hidden-layer network and a synthetic regression data set (the tutorial's model)."""

from __future__ import annotations

from typing import Iterator, Tuple

import torch
from torch import nn


class OneHiddenLayer(nn.Module):
    def __init__(self, d_int: int, n_units: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_int, n_units)
        self.non_linearity = nn.SiLU()
        self.d_int = d_int
        self.n_units = n_units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.non_linearity(self.linear(x)).mean(dim=1)


class DataLoader:
    """Batches of (x, y) where y is produced by a fixed random teacher network."""

    def __init__(self, d_int: int, n_samples: int, batch_size: int, device: str = "cpu") -> None:
        self.device = device
        self.batch_size = batch_size
        self.teacher = OneHiddenLayer(d_int, 5).to(device)
        self.inputs = torch.normal(0.0, 1.0, size=(n_samples, d_int), device=device)
        with torch.no_grad():
            self.targets = self.teacher(self.inputs)

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.inputs), self.batch_size):
            end = start + self.batch_size
            yield self.inputs[start:end], self.targets[start:end]
