"""NCNN's model format: a `.param` text file (the layers, their blobs and
parameters) and a `.bin` file (their weights, in layer order). One module
writes it (targets/ncnn) and the tests read it back; what a layer's weights
look like on disk is here and nowhere else.

The `.bin` is a bare concatenation. A convolution's weight blob starts with
a 4-byte storage tag (float16 or float32, ncnn's ModelBinFromDataReader,
type 0 loads); biases, PReLU slopes and MemoryData are untagged float32
(type 1 loads). A float16 run is padded to 4 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = "7767517"
FP16_TAG = 0x01306B47
"""Before a weight blob stored as float16."""
FP32_TAG = 0x00000000
"""Before a weight blob stored as float32."""
ARRAY_KEY = -23300
"""An array parameter k is written under key ARRAY_KEY - k as `count,v1,v2...`."""


@dataclass
class Weight:
    values: np.ndarray
    tagged: bool
    """A blob with a storage tag (a convolution's weights): written as float16
    in a float16 model; untagged blobs are always float32."""


@dataclass
class Layer:
    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list] = field(default_factory=dict)
    weights: list[Weight] = field(default_factory=list)


def with_splits(layers: list[Layer], keep: tuple[str, ...] = ()) -> list[Layer]:
    """ncnn hands each blob to one consumer: a blob read by several layers
    (or read by one and also in `keep`, the blobs a caller extracts) gets a
    Split layer after its producer, one copy per reader."""
    readers: dict[str, int] = {}
    for layer in layers:
        for name in layer.inputs:
            readers[name] = readers.get(name, 0) + 1
    shared = {name for name, count in readers.items() if count + (name in keep) > 1}
    out: list[Layer] = []
    taken: dict[str, int] = {}
    for layer in layers:
        renamed = []
        for name in layer.inputs:
            if name in shared:
                taken[name] = taken.get(name, 0) + 1
                name = f"{name}_splitncnn_{taken[name] - 1}"
            renamed.append(name)
        out.append(Layer(layer.kind, layer.name, renamed, layer.outputs, layer.params, layer.weights))
        for name in layer.outputs:
            if name in shared:
                copies = [f"{name}_splitncnn_{i}" for i in range(readers[name])]
                out.append(Layer("Split", f"splitncnn_{name}", [name], copies))
    return out


def _value(value: int | float) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):e}"


def param_text(layers: list[Layer]) -> str:
    blobs = {name for layer in layers for name in (*layer.inputs, *layer.outputs)}
    lines = [MAGIC, f"{len(layers)} {len(blobs)}"]
    for layer in layers:
        fields = [f"{layer.kind:<16}", f"{layer.name:<24}", str(len(layer.inputs)), str(len(layer.outputs)),
                  *layer.inputs, *layer.outputs]
        for key, value in layer.params.items():
            if isinstance(value, (list, tuple)):
                fields.append(f"{ARRAY_KEY - key}={len(value)}," + ",".join(_value(v) for v in value))
            else:
                fields.append(f"{key}={_value(value)}")
        lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


def bin_bytes(layers: list[Layer], float16: bool) -> bytes:
    chunks = []
    for layer in layers:
        for weight in layer.weights:
            values = np.asarray(weight.values, np.float32).ravel()
            if weight.tagged and float16:
                raw = values.astype("<f2").tobytes()
                chunks += [struct.pack("<I", FP16_TAG), raw, b"\0" * (-len(raw) % 4)]
            elif weight.tagged:
                chunks += [struct.pack("<I", FP32_TAG), values.astype("<f4").tobytes()]
            else:
                chunks.append(values.astype("<f4").tobytes())
    return b"".join(chunks)


def write(layers: list[Layer], stem: Path, float16: bool) -> list[Path]:
    """STEM.param and STEM.bin; the .param first (what a runtime opens)."""
    param, weights = stem.with_name(stem.name + ".param"), stem.with_name(stem.name + ".bin")
    param.write_text(param_text(layers), encoding="ascii")
    weights.write_bytes(bin_bytes(layers, float16))
    return [param, weights]


def read_param(text: str) -> list[tuple[str, str, list[str], list[str], dict[int, str]]]:
    """A .param's layers as written: (type, name, inputs, outputs, {key: value text})."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != MAGIC:
        raise ValueError(f"not an NCNN .param (no {MAGIC} magic)")
    layers = []
    for line in lines[2:]:
        kind, name, n_in, n_out, *rest = line.split()
        n_in, n_out = int(n_in), int(n_out)
        params = dict(p.split("=", 1) for p in rest[n_in + n_out:])
        layers.append((kind, name, rest[:n_in], rest[n_in:n_in + n_out], {int(k): v for k, v in params.items()}))
    return layers


def weight_count(text: str) -> int:
    """The weights a .param declares: each convolution's weights and biases,
    each PReLU's slopes."""
    total = 0
    for kind, _name, _inputs, _outputs, params in read_param(text):
        if kind in ("Convolution", "ConvolutionDepthWise"):
            total += int(params.get(6, 0)) + (int(params.get(0, 0)) if params.get(5) == "1" else 0)
        elif kind == "PReLU":
            total += int(params.get(0, 0))
        elif kind == "MemoryData":
            total += max(1, int(params.get(0, 0))) * max(1, int(params.get(1, 0))) * max(1, int(params.get(2, 0)))
    return total
