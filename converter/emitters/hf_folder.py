"""A Hugging Face model folder that transformers.js's `image-to-image`
pipeline loads unchanged (issue 28), from srconvert's ONNX artifacts.

What the pipeline does, read from @huggingface/transformers 4.3.1
(src/pipelines/image-to-image.js, models/swin2sr/image_processing_swin2sr.js):
  - a `config.json` of `model_type: swin2sr` gives it the image-to-image
    model class, which feeds `pixel_values` (NCHW float32) and reads
    `reconstruction`;
  - `Swin2SRImageProcessor` rescales pixels by 1/255 and pads each side up to
    a multiple of `pad_size` (symmetric, bottom and right, only when the size
    is not already one), and never crops the padding back;
  - the output is clamped to 0..1, times 255, rounded to uint8;
  - `dtype` picks the file: fp32 -> onnx/model.onnx, fp16 -> model_fp16.onnx,
    uint8 -> model_uint8.onnx, int8 -> model_int8.onnx.
So a model that takes or gives another range gets the conversion folded into
its graph, and the pipeline's 0..1 convention holds at both ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converter.backends.transformersjs import FILES

INPUT, OUTPUT = "pixel_values", "reconstruction"
DTYPES = {"float32": "fp32", "float16": "fp16", "uint8": "uint8", "int8": "int8"}
"""srconvert's precision -> the `dtype` a transformers.js user passes (and
so the file it opens, backends.transformersjs.FILES)."""
PIXELS = 255.0


def file_of(precision: str) -> str:
    return f"onnx/{FILES[DTYPES[precision]]}"


def for_pipeline(model: Any, input_range: tuple[float, float], output_range: tuple[float, float]) -> Any:
    """`model` (NCHW, one input and one output) with the pipeline's names,
    taking 0..1 and giving 0..1: x = low + x01 (high - low) before the graph,
    y01 = (y - low) / (high - low) after it, each left out where it is the
    identity."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())  # the ONNX target's artifact stays as it is
    graph = model.graph
    (source_input,), (source_output,) = graph.input, graph.output
    inner_in, inner_out = source_input.name, source_output.name
    nodes, constants = [], []

    def affine(prefix: str, x: str, out: str, scale: float, shift: float, shift_first: bool) -> None:
        steps = [("Add", shift), ("Mul", scale)] if shift_first else [("Mul", scale), ("Add", shift)]
        steps = [(op, v) for op, v in steps if v != (1.0 if op == "Mul" else 0.0)]
        if not steps:
            nodes.append(helper.make_node("Identity", [x], [out], name=f"{prefix}_identity"))
            return
        current = x
        for i, (op, value) in enumerate(steps):
            name = f"{prefix}_{op.lower()}"
            constants.append(numpy_helper.from_array(np.array(value, np.float32), name + "_value"))
            target = out if i == len(steps) - 1 else f"{name}_out"
            nodes.append(helper.make_node(op, [current, name + "_value"], [target], name=name))
            current = target

    low, high = input_range
    out_low, out_high = output_range
    affine("srconvert_pixels_in", INPUT, inner_in, high - low, low, shift_first=False)
    head = list(nodes)
    nodes.clear()
    affine("srconvert_pixels_out", inner_out, OUTPUT, 1.0 / (out_high - out_low), -out_low, shift_first=True)
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend([*head, *body, *nodes])
    graph.initializer.extend(constants)
    source_input.name, source_output.name = INPUT, OUTPUT
    return model


def write_configs(folder: Path, scale: int, multiple: int, card: str) -> list[Path]:
    """config.json, preprocessor_config.json and the model card (README.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "swin2sr", "architectures": ["Swin2SRForImageSuperResolution"], "upscale": scale,
              "transformers.js_config": {"dtype": "fp32"}}
    processor = {"image_processor_type": "Swin2SRImageProcessor", "do_rescale": True, "rescale_factor": 1 / PIXELS,
                 "do_normalize": False, "do_resize": False, "do_pad": multiple > 1, "pad_size": max(1, multiple)}
    paths = [folder / "config.json", folder / "preprocessor_config.json", folder / "README.md"]
    paths[0].write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths[1].write_text(json.dumps(processor, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths[2].write_text(card, encoding="utf-8")
    return paths


def card(release: dict[str, Any], scale: int, multiple: int, precisions: tuple[str, ...]) -> str:
    """The model card: how to load it, the dtypes, and what the pipeline does
    to sizes. `release`: its name, and for a release its version, license
    and description (the Hub reads the license from the front matter)."""
    name = release["name"]
    license_line = f"license: {release['license'].lower()}\n" if release.get("license") else ""
    about = f"{release['description']}\n\n" if release.get("description") else ""
    version = f" {release['version']}" if release.get("version") else ""
    rows = "\n".join(f"| `{DTYPES[p]}` | `{file_of(p)}` | {p} |" for p in precisions)
    if multiple > 1:
        sizes = (f"The pipeline pads each side up to a multiple of {multiple} (mirrored, at the bottom and right) "
                 f"and does not crop it back: for a W x H input the output is {scale} x (W rounded up to a "
                 f"multiple of {multiple}) wide; crop it to {scale}W x {scale}H from the top left.")
    else:
        sizes = f"The model takes any size: a W x H input gives {scale}W x {scale}H, with no padding."
    return f"""---
{license_line}library_name: transformers.js
pipeline_tag: image-to-image
tags: [super-resolution, srconvert]
---

# {name}{version}

{about}A x{scale} super-resolution model converted by srconvert, checked through
transformers.js's own `image-to-image` pipeline in every dtype below.

```js
import {{ pipeline }} from '@huggingface/transformers';
const upscale = await pipeline('image-to-image', 'PATH/OR/HUB-ID', {{ dtype: 'fp32' }});
const output = await upscale('photo.png');  // a RawImage, {scale}x the input
```

| dtype | file | srconvert precision |
|---|---|---|
{rows}

{sizes}

Input and output are 0..1 as the pipeline gives and takes them (it divides
pixels by 255, then clamps and scales the output back to 0..255).
"""
