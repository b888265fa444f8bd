"""An npm package srconvert wrote, run by its real client: UpscalerJS
(`upscaler` on npm) in the browser page, on a TF.js backend, whole or tiled.
Pixels in and out are 0-255 (1, h, w, 3), as UpscalerJS takes and gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner

ENTRY = "model.js"
"""The package's entry, the model definition users import."""


class UpscalerJSRunner(NodeRunner):
    lane = "chromium"

    @property
    def speed(self) -> str:
        from converter.backends.chromium.runner import browser_speed

        return browser_speed(self.host, self.runtime)

    def __init__(self, host: NodeHost, package: Path, backend: str = "webgl") -> None:
        super().__init__(host, package / ENTRY, "upscalerjs", None)
        self.load_fields = {"backend": backend}
        self.runtime = f"upscalerjs-{backend}"

    def infer(self, batch: np.ndarray, patch_size: int | None = None, padding: int | None = None) -> np.ndarray:
        """Whole-image inference, or tiled as `upscale(image, {patchSize, padding})` tiles."""
        self.infer_fields = {"options": {"patchSize": patch_size, "padding": padding} if patch_size else {}}
        return super().infer(batch)
