"""PyTorch checkpoints (`.pth`, `.pt`, `.ckpt`, `.safetensors`) as a source.

Recognised by content: a zip holding `data.pkl` or a bare pickle (torch.save
in either format), or a safetensors header. Then, in order:
  1. the tensors are read without running anything (`checkpoint`);
  2. spandrel names the architecture and its hyperparameters (`families`);
  3. the network is exported to ONNX (`export`), and from there the run is an
     ONNX source's (`converter.forms.onnx_form`), with one difference: the parity
     reference is the PyTorch network itself, so the export is checked too.
`srconvert inspect` stops after step 2 unless given an input size, when it exports too. Needs the `pytorch` extra (torch,
spandrel); without it a checkpoint stops with exit 3 and the install command.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from converter.sources import admission, declared
from converter.sources.detect import PYTORCH, SAFETENSORS, Probe
from converter.sources.onnx_import import derive_topology, load  # noqa: F401  (the Keras form of the export)

NAME = "pytorch"
"""The reader's name in sources.READERS."""
FORMATS = {PYTORCH: "PyTorch checkpoint (torch.save: .pth, .pt, .ckpt)",
           SAFETENSORS: "PyTorch .safetensors checkpoint"}
# torch.save's zip format puts the pickle at <name>/data.pkl.
PICKLE_MEMBER = "data.pkl"
# Pickle protocols 2 to 5 open with PROTO n; torch.save's legacy format is one.
PICKLE_PROTOCOLS = range(2, 6)


def detect(probe: Probe) -> str | None:
    if probe.is_dir:
        return None
    if _is_safetensors(probe):
        return SAFETENSORS
    if len(probe.head) > 1 and probe.head[0] == 0x80 and probe.head[1] in PICKLE_PROTOCOLS:  # a 1-byte file too
        return PYTORCH
    names = probe.zip_names
    if names and any(name.rsplit("/", 1)[-1] == PICKLE_MEMBER for name in names):
        return PYTORCH
    return None


def _is_safetensors(probe: Probe) -> bool:
    """An 8-byte little-endian header length, then the header's JSON `{`."""
    if len(probe.head) < 8:
        return False
    (length,) = struct.unpack("<Q", probe.head)
    if length == 0 or probe.path.suffix != ".safetensors" and length > probe.path.stat().st_size:
        return False
    with admission.open_regular(probe.path) as handle:
        handle.seek(8)
        return handle.read(1) == b"{"


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    size = path.stat().st_size
    if _is_safetensors(probe):
        return declared.Content(declared.safetensors(path), size)
    if probe.zip_names is not None:  # torch's zip stores tensors uncompressed: declared == stored
        return declared.Content(declared.zip_archive(path), size)
    return declared.Content(size, size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    """Read, detect and (unless only inspecting) export."""
    path = probe.given
    from converter.sources.pytorch import checkpoint, families

    families.import_spandrel()  # exit 3, with the install command, before anything is read
    state_dict, container = checkpoint.read(path, safetensors=fmt == SAFETENSORS)
    found = families.detect(state_dict, path, options.arch)
    architecture = {**found.facts(), "container": container}
    from converter.backends.torch.runner import TorchRunner

    # The network itself is the parity reference (and what inspect measures the input range on).
    fields = {"keras_version": None, "topology": None, "architecture": architecture,
              "input_channels": found.descriptor.input_channels, "reference": lambda: TorchRunner(found.module)}
    if not options.export_graph:
        return fields
    return {**fields, **_exported(found, path, options.input_size, architecture)}


def _exported(found, path: Path, input_size, architecture: dict[str, Any]) -> dict[str, Any]:
    import torch

    from converter.sources.pytorch import export

    multiple = found.descriptor.size_requirements.multiple_of
    model, exported = export.export(found.module, found.descriptor.input_channels, multiple, path, input_size)
    architecture["export"] = {"exporter": f"torch {torch.__version__} (TorchScript)", "opset": export.OPSET,
                              "size": exported}
    return {"payload": model, "producer": f"srconvert export, torch {torch.__version__}"}
