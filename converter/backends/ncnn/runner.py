"""An NCNN artifact (targets/ncnn.py) in the `ncnn` Python runtime, two ways:
- `ncnn`: on the CPU with float16 storage off, what the file's numbers
  compute (float32's gate holds there);
- `ncnn-vulkan`: on Vulkan with float16 storage, the path Upscayl and the
  ncnn-vulkan apps take (Mesa's lavapipe on a machine without a GPU). Its
  activations are stored as float16, so every precision is judged there
  by float16's gate (`gate`), and the report says so.

The artifact takes and gives 0..1 (the NCNN target folds the model's range
in); the runner maps the run's range onto it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.backends.base import Runner, Stopwatch
from converter.core.precisions import DEFAULT_GATES, Gate

INPUT, OUTPUT = "data", "output"
VULKAN_HINT = "install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1; `make setup` does)"


class NcnnRunner(Runner):
    def __init__(self, param: Path, vulkan: bool, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.param = param
        self.vulkan = vulkan
        self.low, self.high = value_range
        self.runtime = self.lane = "ncnn-vulkan" if vulkan else "ncnn"
        self._net = None

    def activate(self) -> None:
        import ncnn

        if self._net is not None:
            return
        if self.vulkan and ncnn.get_gpu_count() == 0:
            raise RuntimeError(f"not verified in ncnn-vulkan: no Vulkan device; {VULKAN_HINT}")
        net = ncnn.Net()
        net.opt.use_vulkan_compute = self.vulkan
        # As Upscayl sets it on Vulkan; on the CPU the file's own numbers.
        net.opt.use_fp16_storage = net.opt.use_fp16_packed = self.vulkan
        net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = False
        net.opt.num_threads = 1
        if net.load_param(str(self.param)) != 0 or net.load_model(str(self.param.with_suffix(".bin"))) != 0:
            raise RuntimeError(f"ncnn could not load {self.param.name} and its .bin")
        self._net = net

    def infer(self, batch: np.ndarray) -> np.ndarray:
        import ncnn

        outputs, total = [], 0.0
        for image in batch:
            chw = ((image - self.low) / (self.high - self.low)).transpose(2, 0, 1)
            extractor = self._net.create_extractor()
            with Stopwatch() as watch:
                extractor.input(INPUT, to_mat(chw))
                code, out = extractor.extract(OUTPUT)
            if code != 0:
                raise RuntimeError(f"ncnn could not compute the `{OUTPUT}` blob (error {code})")
            total += watch.ms
            outputs.append(self.low + np.array(out).transpose(1, 2, 0) * (self.high - self.low))
        self.last_ms = total
        return np.stack(outputs).astype(np.float32)

    def expected(self, reference: np.ndarray) -> np.ndarray:
        """The artifact clamps its output to the model's range (emitters/ncnn), by design."""
        return np.clip(reference, self.low, self.high)

    def gate(self, gate: Gate, value_range: float) -> Gate:
        if self.vulkan and gate.metric == "max_abs_rel":  # float16 storage cannot carry float32's 1e-4
            return DEFAULT_GATES["float16"]
        return gate

    def deactivate(self) -> None:
        self._net = None

    def runs_file(self) -> Path:
        return self.param


def to_mat(chw: np.ndarray):
    """An ncnn.Mat holding `chw`, each channel at ncnn's aligned stride.
    ncnn.Mat(array) wraps the array with channels packed back to back, which
    the CPU reads but the Vulkan upload does not: an image whose height x
    width is not a multiple of 4 came out scrambled (measured, ncnn 1.0.20261020)."""
    import ncnn

    channels, height, width = chw.shape
    mat = ncnn.Mat(width, height, channels)
    for index in range(channels):
        np.array(mat.channel(index), copy=False)[:] = chw[index]
    return mat


def for_cpu(artifact, root: Path, runtimes) -> NcnnRunner:
    return NcnnRunner(root / artifact.entry, False, tuple(runtimes.value_range))


def for_vulkan(artifact, root: Path, runtimes) -> NcnnRunner:
    return NcnnRunner(root / artifact.entry, True, tuple(runtimes.value_range))
