"""PyTorch `.safetensors` checkpoints: recognised and checked, not yet converted.

The header is checked against the file (`declared.safetensors_header`)
before anything else, so a hostile file is refused as such; a sound one is
refused with the way to convert it today (export to ONNX). Loading the
architectures inside (through spandrel's registry) is issue 16's work.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from converter.errors import BadInput
from converter.sources import admission, declared
from converter.sources.detect import SAFETENSORS, Probe

FORMATS = {SAFETENSORS: "PyTorch .safetensors checkpoint (recognised; export to ONNX to convert)"}


def detect(probe: Probe) -> str | None:
    """An 8-byte little-endian header length, then the header's JSON `{`."""
    if probe.is_dir or len(probe.head) < 8:
        return None
    (length,) = struct.unpack("<Q", probe.head)
    if length == 0 or probe.path.suffix != ".safetensors" and length > probe.path.stat().st_size:
        return None
    with admission.open_regular(probe.path) as handle:
        handle.seek(8)
        opening = handle.read(1)
    return SAFETENSORS if opening == b"{" else None


def content_bytes(path: Path) -> declared.Content:
    return declared.Content(declared.safetensors(path), path.stat().st_size)


def describe(path: Path, fmt: str, options) -> dict[str, Any]:
    raise BadInput(
        "a PyTorch .safetensors checkpoint: srconvert cannot rebuild its architecture yet",
        path=path,
        hint="export the network to ONNX (torch.onnx.export) and convert the .onnx file",
    )
