"""parity.html: for each photo crop, the source output beside every
artifact's output and an amplified difference heat-map. Self-contained: the
images are embedded as PNG data URIs, so the page reads offline."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

# Differences are multiplied by this before colouring, so a 1% error of the
# output range is 50% of the scale: quantization noise shows, float32 is black.
GAIN = 50.0


def _png(pixels: np.ndarray) -> str:
    """Lossless, for heat maps and inputs: every differing pixel must show."""
    return _data_uri(pixels, "PNG", optimize=True)


def _jpeg(pixels: np.ndarray) -> str:
    """Model outputs: high-quality JPEG keeps the page a few MB; the exact
    differences are in the (lossless) heat maps beside them."""
    return _data_uri(pixels, "JPEG", quality=92)


def _data_uri(pixels: np.ndarray, fmt: str, **options) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _to_image(batch: np.ndarray, low: float, high: float) -> np.ndarray:
    with np.errstate(all="ignore"):  # an output that is not finite is drawn, not warned about: parity says so
        image = np.nan_to_num(np.clip((batch[0] - low) / max(high - low, 1e-12), 0.0, 1.0), nan=0.0)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 4:  # over a checkerboard, as image editors show transparency: alpha errors show
        y, x = np.indices(image.shape[:2])
        board = np.where((y // 8 + x // 8) % 2, 0.8, 0.6)[..., None]
        image = image[..., :3] * image[..., 3:] + board * (1.0 - image[..., 3:])
    return (image[..., :3] * 255.0 + 0.5).astype(np.uint8)


def heat_map(reference: np.ndarray, output: np.ndarray, value_range: float) -> np.ndarray:
    """|difference| per pixel (max over channels), amplified, black-red-yellow-white."""
    with np.errstate(all="ignore"):  # where either is not finite, the difference is the largest
        v = np.nan_to_num(np.clip(np.abs(output[0] - reference[0]).max(axis=-1) * GAIN / value_range, 0.0, 1.0),
                          nan=1.0)
    rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def _figure(src: str, caption: str) -> str:
    return f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def write(
    path: Path,
    photos: list[tuple[str, np.ndarray, np.ndarray]],
    outputs: dict[str, list[np.ndarray]],
    summaries: dict[str, str],
    low: float,
    high: float,
    head: list[str] = (),
) -> None:
    """`photos`: (name, input, reference output); `outputs`: per "artifact in
    runtime" label, its output on each photo it ran, by index in `photos`; `summaries`: a line per label;
    `head`: lines above everything (the run's verdict, the input range)."""
    value_range = max(high - low, 1e-12)
    sections = []
    for index, (name, source_input, reference) in enumerate(photos):
        in_low, in_high = float(source_input.min()), float(source_input.max())
        cells = [
            _figure(_png(_to_image(source_input, min(in_low, 0.0), max(in_high, 1.0))), "input"),
            _figure(_jpeg(_to_image(reference, low, high)), "source model"),
        ]
        for label, results in outputs.items():
            output = results.get(index)
            if output is None:  # an artifact that takes another size, or a slow runtime's small set
                continue
            cells.append(
                '<div class="pair">'
                + _figure(_jpeg(_to_image(output, low, high)), label)
                + _figure(_png(heat_map(reference, output, value_range)), f"|diff| x{GAIN:g} - {summaries[label]}")
                + "</div>"
            )
        sections.append(f"<section><h2>{html.escape(name)}</h2><div class=\"row\">{''.join(cells)}</div></section>")
    body = f"""<p>Outputs are shown on the source output's range [{low:.4g}, {high:.4g}]. Heat maps show
|artifact - source| (largest over channels) multiplied by {GAIN:g} of the output range:
black is identical, yellow-white is 2% or more.</p>
{''.join(sections)}"""
    _page(path, head, body)


def write_unverified(path: Path, head: list[str]) -> None:
    """The page of a run that checked nothing: it says so, and shows nothing."""
    _page(path, head, "<p>No artifact ran against the source model in this run, so there is nothing to compare.</p>")


def _page(path: Path, head: list[str], body: str) -> None:
    lines = "".join(f"<p><strong>{html.escape(line)}</strong></p>" for line in head)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>srconvert parity</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }}
.pair {{ display: flex; flex-direction: column; gap: .25rem; border-left: 2px solid #ddd; padding-left: .5rem; }}
figure {{ margin: 0; }}
img {{ image-rendering: pixelated; height: 200px; border: 1px solid #ccc; }}
figcaption {{ font-size: 12px; max-width: 260px; }}
</style></head><body>
<h1>Parity: source model vs every artifact</h1>
{lines}
{body}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_gallery(path: Path, reference, gallery: dict[str, dict[int, np.ndarray]], artifacts: list,
                  head: list[str] = ()) -> None:
    """parity.html of a verified run: `reference` (parity.runs.Reference)
    beside each "entry in runtime"'s outputs in `gallery`, with each run's
    outcome as the comparator gave it."""
    from converter.parity.compare import outcome

    photos = [(i.name, i.array, o) for i, o in zip(reference.inputs, reference.outputs) if i.is_photo]
    summaries = {}
    for artifact in artifacts:
        for result in artifact.parity["results"]:
            summaries[f"{artifact.entry} in {result['runtime']}"] = outcome(result)
    write(path, photos, gallery, summaries, reference.low, reference.high, head)
