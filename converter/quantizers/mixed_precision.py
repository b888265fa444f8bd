"""Sensitivity-guided mixed precision: the fewest weight tensors kept at
float16 so that a quantized model still meets its gate on photos.

Random weights quantize easily; published ones do not. Real-ESRGAN's
realesr-general-x4v3 loses 39 dB to TF.js's one-range-per-tensor uint8 on
natural photos (its first convolution's kernel spans -69..50), short of the
40 dB gate, while the same file with its first kernel and a few others in
float16 clears 43 dB for 0.3x the float32 bytes. Which tensors matter is a
property of the weights and of the photos they see, so it is measured:

1. Every weight a scheme quantizes is replaced by its quantized value (the
   scheme's own `fake`, exactly what the artifact will hold) and the model
   runs in onnxruntime on calibration photos; PSNR as shown (clipped to the
   pixel range, peak = that range), as parity judges it. At or above the
   target (the gate plus MARGIN_DB): nothing is kept.
2. Otherwise each weight's damage is estimated in one pass: beside every
   layer that reads one, the same layer on the same (float) input with the
   weight's quantization error in its place, its energy against the layer's
   own output (a local noise-to-signal ratio). On the Real-ESRGAN models this
   ranks the tensors as quantizing each one alone does, at the cost of one
   run instead of one per tensor (351 on x4plus). Chosen by measurement:
   the ratio of a kernel's error to its own values ranks them badly, and
   cross-layer equalization (Nagel et al. 2019) lowered general-x4v3's PSNR.
3. The most damaging ones are kept at float16: the k the ratios predict
   first (each weight's share of the output's noise taken as its ratio's
   share of their sum), then galloping and bisection to the smallest k
   measured to meet the target; the chosen set is measured as it is written.

Deterministic: one onnxruntime thread, the photos in name order, ties in
the ranking broken by name. The choice, what it cost in bytes and the
PSNR it measured are recorded in the manifest (`Decision.record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MARGIN_DB = 2.0
"""Over the gate on the calibration photos, so that parity's own photos and
runtimes (each computing in its own order) still clear it."""
SEARCH_SIDE = 32
"""The calibration photos' centre crop, at most: larger than a Compact
network's receptive field in the flat regions where quantization shows."""
MIN_SIDE = 16
SEARCH_MACS = 4e10
"""The work of one run over every calibration photo, which sets a heavy
model's crop below SEARCH_SIDE: a 16.7 M-parameter RRDB (x4plus) gets 16x16
crops, about 0.6 s a run on one core, and the search about ten runs."""
READS_WEIGHT = ("Conv", "ConvTranspose", "MatMul", "Gemm")
"""Ops whose second input is a weight the search may keep wider."""
SHAPE_READERS = ("Resize", "Upsample")
"""Their float inputs after the first are sizes and scales, never quantized."""


@dataclass(frozen=True)
class Goal:
    """What a search aims at, and what it measures on."""

    precision: str
    target_db: float
    """The gate plus MARGIN_DB."""
    pixel_range: tuple[float, float]
    batches: tuple[np.ndarray, ...]
    """Calibration crops in the base graph's layout and the model's input range."""
    progress: Any = None

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.step(text)


def goal(form: Any, options: Any, precision: str, layout: str, progress: Any = None) -> Goal | None:
    """The run's goal for an artifact of `precision` (its gate plus
    MARGIN_DB, on the calibration photos cropped to `crop_side`), or None
    where there is nothing to search for: a gate not on photos, or no photo
    the model takes (every weight is then quantized, and parity judges)."""
    from converter.core.errors import BadInput
    from converter.quantizers.calibration import calibration_batches

    gate = options.gates[precision]
    if not gate.on_photos or options.calibration_images is None:
        return None
    try:
        batches = calibration_batches(options.calibration_images, form.input_channels, layout, options.input_range,
                                      form.input_multiple, form.input_size)
    except BadInput:
        return None
    if form.input_size is None:
        axes = (1, 2) if layout == "nhwc" else (2, 3)
        side = crop_side(form.macs_per_pixel, len(batches), form.input_multiple)
        batches = [_centre(batch, axes, side) for batch in batches]
    return Goal(precision, gate.threshold + MARGIN_DB, tuple(options.input_range), tuple(batches), progress)


@dataclass(frozen=True)
class Decision:
    kept: tuple[str, ...]
    """What was kept wider, most damaging first: initializer names (kept at
    float16) or node names (left in float32), as `kept_as` says."""
    kept_as: str
    all_db: float
    """PSNR on the calibration photos with everything quantized."""
    db: float
    """PSNR with `kept` kept wider: what the artifact was chosen on."""
    target_db: float
    evaluations: int
    photos: int
    extra_bytes: int = 0
    """What keeping them wider costs in the artifact."""

    def record(self, kept_names: list[str] | None = None) -> dict[str, Any]:
        """What the manifest records; `kept_names`: as the artifact names them (default: as the search did)."""
        return {
            "kept": list(kept_names if kept_names is not None else self.kept),
            "kept_as": self.kept_as,
            "kept_extra_bytes": self.extra_bytes,
            "photos_db_all_quantized": _rounded(self.all_db),
            "photos_db": _rounded(self.db),
            "target_db": self.target_db,
            "calibration_photos": self.photos,
            "evaluations": self.evaluations,
        }

    def summary(self) -> str:
        """For the progress line."""
        return (f"{self.kept_as}: {len(self.kept)} kept ({self.all_db:.1f} dB with none, {self.db:.1f} dB with them, "
                f"{self.evaluations} runs)")


def _rounded(value: float) -> float | None:
    return None if not math.isfinite(value) else round(value, 2)


def signature(array: np.ndarray) -> str:
    """A tensor's values whatever their order: the same weight laid out as
    another format lays it out (a TF.js kernel is an ONNX one transposed)."""
    import hashlib

    values = np.sort(np.asarray(array, dtype=np.float32).ravel())
    return hashlib.sha256(values.tobytes()).hexdigest()


def search(base: Any, fake: Callable[[str, np.ndarray], np.ndarray | None], goal: Goal,
           stored_bytes: int = 1) -> Decision:
    """The fewest weights of `base` (a float32 ModelProto) to keep at float16.

    `fake(name, array)`: the value the scheme stores for that initializer,
    expanded back to float32, or None for one it leaves alone;
    `stored_bytes`: what the scheme stores a value in (float16 costs 2)."""
    from onnx import numpy_helper

    goal.say(f"measuring which weights {goal.precision} keeps at float16 (photos at >= {goal.target_db:g} dB)")
    shape_inputs = {name for node in base.graph.node if node.op_type in SHAPE_READERS for name in node.input[1:]}
    originals = {init.name: numpy_helper.to_array(init) for init in base.graph.initializer
                 if init.name not in shape_inputs}
    faked = {name: np.asarray(value, np.float32).reshape(array.shape) for name, array in originals.items()
             if (value := fake(name, array)) is not None}
    runner = _Runner(base, sorted(faked), list(goal.batches))
    references = runner.run({name: originals[name] for name in faked})
    order: list[str] = []

    def measure(k: int) -> float:
        kept = set(order[:k])
        weights = {name: (_float16(originals[name]) if name in kept else value) for name, value in faked.items()}
        return psnr_as_shown(references, runner.run(weights), goal.pixel_range)

    def rank() -> tuple[list[str], list[float]]:
        found, ratios = ranked(base, originals, faked, list(goal.batches))
        order[:] = found
        return found, ratios

    k, measured = fewest(measure, rank, goal.target_db)
    kept = tuple(order[:k])
    decision = Decision(kept, "float16 weights", measured[0], measured[k], goal.target_db, len(measured),
                        len(goal.batches), sum(int(originals[name].size) for name in kept) * (2 - stored_bytes))
    goal.say(f"{goal.precision}: {decision.summary()}")
    return decision


def fewest(measure: Callable[[int], float], rank: Callable[[], tuple[list[str], list[float] | None]],
           target_db: float) -> tuple[int, dict[int, float]]:
    """The fewest of the ranked items to keep wider, and every k measured
    (k -> PSNR; measured[0] with none kept): none where everything
    quantized meets `target_db`, or where nothing kept reaches it (untrained
    weights can be beyond help; parity then judges the plain artifact);
    else the smallest k measured to meet it (smallest_passing), from the
    ratios' prediction where `rank` gives ratios, else from 1."""
    measured: dict[int, float] = {}

    def once(k: int) -> float:
        if k not in measured:
            measured[k] = measure(k)
        return measured[k]

    if once(0) >= target_db:
        return 0, measured
    order, ratios = rank()
    if not order:
        return 0, measured
    start = predicted(ratios, target_db - measured[0]) if ratios is not None else 1
    k = smallest_passing(once, start, len(order), target_db)
    # Where even keeping every candidate wider falls short, keeping them buys bytes, not the gate: none.
    return (k if once(k) >= target_db else 0), measured


def crop_side(macs_per_pixel: float, photos: int, multiple: int = 1) -> int:
    """The calibration crops' side: what SEARCH_MACS allows one run of all
    `photos`, between MIN_SIDE and SEARCH_SIDE, a multiple of `multiple`."""
    side = SEARCH_SIDE
    if macs_per_pixel > 0:
        side = int(min(SEARCH_SIDE, max(MIN_SIDE, math.sqrt(SEARCH_MACS / (macs_per_pixel * max(photos, 1))))))
    return max(multiple, side // multiple * multiple)


def predicted(ratios: list[float], gain_db: float) -> int:
    """Where to start looking: the k at which the output's noise would fall
    by `gain_db` if each weight's share of it were its local ratio's share
    of their sum (a first-order guess; the search measures from there)."""
    total = sum(ratios)
    allowed = total * 10.0 ** (-gain_db / 10.0)
    left = total
    for k, ratio in enumerate(ratios, start=1):
        left -= ratio
        if left <= allowed:
            return k
    return len(ratios)


def smallest_passing(measure: Callable[[int], float], start: int, most: int, target_db: float) -> int:
    """The smallest k in 1..`most` with measure(k) >= target_db, found from
    `start` by galloping then bisection (assuming more kept never hurts,
    which holds closely enough; every k returned was measured passing), or
    `most` when even that falls short (parity then judges it)."""
    start = min(max(start, 1), most)
    if measure(start) >= target_db:
        passing, failing = start, start // 2
        while failing > 0 and measure(failing) >= target_db:
            passing, failing = failing, failing // 2
    else:
        failing, passing = start, min(2 * start, most)
        while measure(passing) < target_db:
            if passing == most:
                return most
            failing, passing = passing, min(2 * passing, most)
    while passing - failing > 1:
        middle = (passing + failing) // 2
        passing, failing = (middle, failing) if measure(middle) >= target_db else (passing, middle)
    return passing


def ranked(base: Any, originals: dict[str, np.ndarray], faked: dict[str, np.ndarray],
           batches: list[np.ndarray]) -> tuple[list[str], list[float]]:
    """The weights layers read (READS_WEIGHT), most damaged by quantization
    first, and each one's local noise-to-signal ratio on the calibration
    photos (the module's docstring, step 2), summed over the layers sharing it."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(base)
    graph = model.graph
    del graph.output[:]
    readers = [node for node in base.graph.node
               if node.op_type in READS_WEIGHT and len(node.input) > 1 and node.input[1] in faked]
    errors = list(dict.fromkeys(node.input[1] for node in readers))
    for name in errors:
        error = (faked[name] - originals[name]).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(error, f"{name}__error"))
    for index, node in enumerate(readers):
        noisy = helper.make_node(node.op_type, [node.input[0], f"{node.input[1]}__error"], [f"noise{index}"])
        noisy.attribute.extend(node.attribute)
        graph.node.extend([
            noisy,
            helper.make_node("ReduceSumSquare", [f"noise{index}"], [f"noise{index}__energy"], keepdims=0),
            helper.make_node("ReduceSumSquare", [node.output[0]], [f"signal{index}__energy"], keepdims=0),
        ])
        for what in ("noise", "signal"):
            graph.output.append(helper.make_tensor_value_info(f"{what}{index}__energy", onnx.TensorProto.FLOAT, []))
    energy_runner = session(model)
    feed = energy_runner.get_inputs()[0].name
    noise = dict.fromkeys(errors, 0.0)
    signal = dict.fromkeys(errors, 0.0)
    for batch in batches:
        energies = energy_runner.run(None, {feed: batch})
        for index, node in enumerate(readers):
            noise[node.input[1]] += float(energies[2 * index])
            signal[node.input[1]] += float(energies[2 * index + 1])
    ratio = {name: noise[name] / max(signal[name], 1e-30) for name in errors}
    order = sorted(errors, key=lambda name: (-ratio[name], name))
    return order, [ratio[name] for name in order]


class _Runner:
    """The model with the weights under study as inputs: one session,
    fed each candidate set of weights, instead of one session per set."""

    def __init__(self, base: Any, names: list[str], batches: list[np.ndarray]) -> None:
        import onnx
        from onnx import helper

        model = onnx.ModelProto()
        model.CopyFrom(base)
        graph = model.graph
        studied = set(names)
        for init in [init for init in graph.initializer if init.name in studied]:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
            graph.initializer.remove(init)
        self.session = session(model)
        self.feed = self.session.get_inputs()[0].name
        self.batches = batches

    def run(self, weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.session.run(None, {self.feed: batch, **weights})[0] for batch in self.batches]


def session(model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the same sums in the same order on every machine: a reproducible choice
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _float16(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, np.float16).astype(np.float32)


def psnr_as_shown(references: list[np.ndarray], outputs: list[np.ndarray], pixel_range: tuple[float, float]) -> float:
    from converter.core.metrics import compare_as_shown

    return compare_as_shown(references, outputs, pixel_range).psnr_db


def _centre(batch: np.ndarray, axes: tuple[int, int], side: int) -> np.ndarray:
    """The batch's centre `side` square (or all of a shorter side)."""
    index: list[Any] = [slice(None)] * batch.ndim
    for axis in axes:
        size = batch.shape[axis]
        keep = min(size, side)
        index[axis] = slice((size - keep) // 2, (size - keep) // 2 + keep)
    return np.ascontiguousarray(batch[tuple(index)])
