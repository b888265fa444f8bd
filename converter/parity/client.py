"""The release client check: the npm package `srconvert build` wrote, run by
its real client, UpscalerJS (`upscaler` on npm), in Chromium, on a photo
several tiles large, tiled with the recipe's patch size and padding.

It passes when the tiled output matches the source model on the whole image
(the package precision's gate) and shows no seam: no row or column of it
parts from whole-image inference, in the same page, by more than that gate
allows. A seam is a line, so it is judged line by line; over the whole image
a seam's error would be diluted below any gate. When the recipe's padding
leaves seams, the smallest padding that hides them is searched for and named.

Like the comparator it uses, this module sees arrays and a runner; the page
side lives in backends/chromium.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import one_line
from converter.core.photos import load_photo
from converter.core.precisions import Gate
from converter.parity import metrics as parity_metrics
from converter.parity.inputs import ParityInput
from converter.parity.metrics import psnr_text

PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "client" / "chelsea.png"
# Crops of the photo, in tiles (width, height). UpscalerJS 1.0.0 stitches some
# geometries wrongly (160x96 at patch 64, padding 10 loses 9 columns), so a
# padding is only advised when it holds on more than one: a plain one and one
# whose sides are a multiple of nothing.
CROPS_IN_TILES = ((2.5, 1.5), (2.3, 1.7))
BACKEND = "webgl"
CLIENT_OVERHEAD = 3.0
"""UpscalerJS's tiled run costs more than its inferences: every tile and
photo shape compiles its own shaders, and it converts pixels around each
tile. Measured: 41 min for the ISR-size RRDN's check on SwiftShader with the
machine loaded, where its inferences are estimated at 9.4 min; rounded down."""
"""TF.js's default backend in Chromium: what an UpscalerJS page gets."""
PIXEL_RANGE = 255.0
"""UpscalerJS takes and gives 0-255 pixels."""


@dataclass(frozen=True)
class Tiling:
    patch_size: int
    padding: int

    def describe(self) -> str:
        return f"patch size {self.patch_size}, padding {self.padding}"


@dataclass(frozen=True)
class Photo:
    name: str
    pixels: np.ndarray
    """(1, h, w, 3) float32, 0-255: what a page hands UpscalerJS."""


def photos(patch_size: int, multiple: int = 1) -> list[Photo]:
    """The photo's crops, each cut to the model's input multiple."""
    full = load_photo(PHOTO, 3) * PIXEL_RANGE
    result = []
    for width_tiles, height_tiles in CROPS_IN_TILES:
        h = min(full.shape[0], round(height_tiles * patch_size)) // multiple * multiple
        w = min(full.shape[1], round(width_tiles * patch_size)) // multiple * multiple
        result.append(Photo(f"{PHOTO.stem}-{w}x{h}", np.ascontiguousarray(full[None, :h, :w])))
    return result


def _upper(value_range: tuple[float, float]) -> float:
    return 1.0 if value_range[1] == 1 else PIXEL_RANGE


def to_model(pixels: np.ndarray, input_range: tuple[float, float]) -> np.ndarray:
    """What UpscalerJS feeds the model: pixels / 255 for a [0, 1] model."""
    return (pixels * (_upper(input_range) / PIXEL_RANGE)).astype(np.float32)


def to_pixels(output: np.ndarray, output_range: tuple[float, float]) -> np.ndarray:
    """What UpscalerJS makes of the model's output: clipped to its range, as 0-255."""
    upper = _upper(output_range)
    return (np.clip(output, 0.0, upper) * (PIXEL_RANGE / upper)).astype(np.float32)


def worst_line(reference: np.ndarray, output: np.ndarray) -> tuple[parity_metrics.Metrics, str]:
    """The metrics of the row or column where `output` is furthest from
    `reference` (both (1, h, w, c)), and which line that is."""
    squared = np.square(reference.astype(np.float64) - output.astype(np.float64))[0].mean(axis=2)
    rows, columns = squared.mean(axis=1), squared.mean(axis=0)
    if rows.max() >= columns.max():
        index = int(rows.argmax())
        line, where = (reference[:, index], output[:, index]), f"row {index}"
    else:
        index = int(columns.argmax())
        line, where = (reference[:, :, index], output[:, :, index]), f"column {index}"
    return parity_metrics.compare([line[0]], [line[1]], PIXEL_RANGE), where


def client_version() -> str:
    from converter.backends.node.host import node_modules

    package = json.loads((node_modules() / "upscaler" / "package.json").read_text(encoding="utf-8"))
    return f"upscaler {package['version']}"


class ClientCheck:
    """One package, one client, one tiling to prove (and others to try)."""

    def __init__(self, tiling: Tiling, input_range: tuple[float, float], output_range: tuple[float, float],
                 multiple: int = 1) -> None:
        self.tiling = tiling
        self.input_range = input_range
        self.output_range = output_range
        self.photos = photos(tiling.patch_size, multiple)

    def reference_inputs(self) -> list[ParityInput]:
        """The photos as the source model is to see them (run on the reference lane)."""
        return [ParityInput(p.name, to_model(p.pixels, self.input_range), True) for p in self.photos]

    def seconds(self, clock, speed: str) -> float:
        """The check's estimated seconds (`clock`: core.deadline.Clock, at
        `speed`): whole-image inference of each photo, then tiled (each
        tile an inference; tiles overlap by the padding), times CLIENT_OVERHEAD."""
        total = 0.0
        size, padding = self.tiling.patch_size, self.tiling.padding
        for photo in self.photos:
            height, width = photo.pixels.shape[1:3]
            total += clock.inference(height * width, speed)
            tiles = -(-height // size) * -(-width // size)
            total += tiles * clock.inference((size + 2 * padding) ** 2, speed)
        return CLIENT_OVERHEAD * total

    def verify(self, verification, package: Path, precision: str) -> dict[str, Any]:
        """Run the npm package in `package` in UpscalerJS, on the browser
        lane of `verification` (parity.engine.Verification), against the
        source's outputs on this check's photos, by `precision`'s gate: a
        release step, after the artifacts' own parity."""
        from converter.backends.chromium.upscalerjs import UpscalerJSRunner

        runtimes = verification.runtimes
        runner = UpscalerJSRunner(runtimes.host(UpscalerJSRunner.lane), package, BACKEND)
        job = runtimes.lane(runner.lane).submit(self.run, runner, verification.reference.extra_outputs,
                                                verification.gates[precision])
        return job.result()

    def run(self, runner, references: list[np.ndarray], gate: Gate) -> dict[str, Any]:
        """`runner`: an UpscalerJS runner of the package; `references`: the
        source model's outputs on `reference_inputs()`. Never raises for
        what the page does: an error fails the check, with its message."""
        expected = [to_pixels(r, self.output_range) for r in references]
        result: dict[str, Any] = {
            "client": client_version(), "runtime": runner.runtime, **asdict(self.tiling),
            "photos": [p.name for p in self.photos], "gate": gate.as_dict(),
        }
        try:
            with runner:
                whole = [runner.run(p.pixels) for p in self.photos]
                untiled = parity_metrics.compare(expected, whole, PIXEL_RANGE)
                verdict, worst = self._judge(runner, self.tiling, whole, expected, gate, range(len(self.photos)))
                result.update(verdict, whole=untiled.as_dict())
                if not result["pass"] and gate.passes(untiled):  # the tiling is at fault, not the artifact
                    worst_first = sorted(range(len(self.photos)), key=lambda i: i != worst)
                    result["smallest_passing_padding"] = self._search(runner, whole, expected, gate, worst_first)
        except Exception as exc:  # noqa: BLE001 - the page's errors are the client's, reported by name
            result.update({"pass": False, "error": one_line(exc, 400)})
        return result

    def _judge(self, runner, tiling: Tiling, whole: list[np.ndarray], expected: list[np.ndarray], gate: Gate,
               indices) -> tuple[dict[str, Any], int]:
        """Tile the photos at `indices` and judge them against the source and
        against whole-image inference; also says which photo seams worst."""
        indices = list(indices)
        tiled = [runner.run(self.photos[i].pixels, patch_size=tiling.patch_size, padding=tiling.padding)
                 for i in indices]
        source = parity_metrics.compare([expected[i] for i in indices], tiled, PIXEL_RANGE)
        seams = [(*worst_line(whole[i], t), i) for i, t in zip(indices, tiled)]
        seam, line, photo = min(seams, key=lambda s: s[0].psnr_db)
        verdict = {
            "source": source.as_dict(),
            "seam": {**seam.as_dict(), "where": f"{line} of {self.photos[photo].name}'s output"},
            "pass": gate.passes(source) and all(gate.passes(m) for m, _, _ in seams),
            "error": None,
        }
        return verdict, photo

    def _search(self, runner, whole, expected, gate: Gate, order: list[int]) -> int | None:
        """The smallest padding above the recipe's that passes on every
        photo, or None. Linear, not bisected: UpscalerJS's stitching makes
        seams non-monotonic in the padding. Each candidate is tried on the
        photo that failed first, and on the others only when it passes
        there: on a software GPU a tiled pass of a large model takes minutes."""
        size = self.tiling.patch_size
        for padding in range(self.tiling.padding + 1, math.ceil(size / 2)):  # UpscalerJS wants 2 x padding < size
            tiling = Tiling(size, padding)
            if all(self._judge(runner, tiling, whole, expected, gate, [i])[0]["pass"] for i in order):
                return padding
        return None


def describe(result: dict[str, Any]) -> str:
    """The check in one sentence, for parity.md and the run's failure message."""
    tiling = Tiling(result["patch_size"], result["padding"])
    head = f"UpscalerJS client check ({result['client']}, {result['runtime']}, {tiling.describe()}"
    head += f", on {', '.join(result['photos'])})"
    if result.get("error"):
        return f"{head}: FAILED: {result['error']}"
    gate = Gate.from_dict(result["gate"])
    source, seam = result["source"], result["seam"]
    text = (f"{head}: tiled vs source PSNR {psnr_text(source)} dB; worst row or column against whole-image inference "
            f"{psnr_text(seam)} dB, at {seam['where']}; gate {gate.describe()}: {'pass' if result['pass'] else 'FAIL'}")
    if result["pass"]:
        return text + "."
    if "smallest_passing_padding" not in result:
        return text + "; whole-image inference fails too, so the artifact is at fault, not the tiling."
    smallest = result["smallest_passing_padding"]
    if smallest is None:
        return text + f"; no padding below {math.ceil(tiling.patch_size / 2)} hides the seams: raise patch_size."
    return text + f"; the smallest padding that passes is {smallest}: set padding = {smallest} in the recipe."


def failed(result: dict[str, Any] | None) -> list[str]:
    """The failure message's line for a failed check; none otherwise."""
    return [describe(result)] if result and result.get("pass") is False else []
