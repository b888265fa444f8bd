"""A PyTorch module on the CPU: the parity reference of a PyTorch checkpoint,
so every artifact, the exported ONNX graph included, is checked against the
network the checkpoint holds."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.backends.base import Runner, Stopwatch
from converter.graphs.layout import from_layout, to_layout


class TorchRunner(Runner):
    runtime = "pytorch"

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def infer(self, batch: np.ndarray) -> np.ndarray:
        import torch

        # A copy: some networks scale their input in place (RCAN).
        tensor = torch.from_numpy(to_layout(batch, "nchw").copy())
        with torch.inference_mode(), Stopwatch() as watch:
            out = self.module(tensor)
        self.last_ms = watch.ms
        return from_layout(out.float().numpy(), "nchw")
