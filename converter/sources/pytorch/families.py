"""Which network a state dict is, from its weight names and shapes alone:
spandrel's registry (chaiNNer's), which knows about 40 architectures and
infers each one's hyperparameters from tensor shapes. srconvert adds the
checks a converter needs: a super-resolution (or same-size restoration)
network, the whole of it, and a licence note.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput, EnvironmentProblem, first_line

INSTALL_HINT = "pip install 'srconvert[pytorch]' (in a clone of srconvert: make setup-pytorch)"
# Purposes srconvert converts: image in, image out, no mask. Face restoration
# (FaceSR) networks take aligned face crops, inpainting ones a mask.
CONVERTED_PURPOSES = {"SR": "super-resolution", "Restoration": "same-size restoration"}
PERMISSIVE = "MIT, Apache-2.0 or public domain (spandrel ships only permissively licensed architecture code)"
RESTRICTIVE = ("restrictive, often non-commercial (a spandrel_extra_arches architecture): check its terms "
               "before shipping it")


@dataclass(frozen=True)
class Detected:
    descriptor: Any
    """spandrel's ImageModelDescriptor: the torch module with its weights."""
    family: str
    hyperparameters: dict[str, Any]
    licence: str

    @property
    def module(self) -> Any:
        return self.descriptor.model

    def facts(self) -> dict[str, Any]:
        """What the manifest and `inspect` record of the network."""
        import spandrel

        d = self.descriptor
        return {
            "family": self.family,
            "name": d.architecture.name,
            "params": self.hyperparameters,
            "scale": d.scale,
            "purpose": CONVERTED_PURPOSES[d.purpose],
            "tags": list(d.tags),
            "input_channels": d.input_channels,
            "output_channels": d.output_channels,
            "size_requirements": {"minimum": d.size_requirements.minimum,
                                  "multiple_of": d.size_requirements.multiple_of,
                                  "square": d.size_requirements.square},
            "parameters": sum(p.numel() for p in d.model.parameters()),
            "architecture_licence": self.licence,
            "detected_by": f"spandrel {spandrel.__version__}",
        }


def registry() -> Any:
    """spandrel's registry, with the extra architectures where installed."""
    spandrel = import_spandrel()
    try:
        import spandrel_extra_arches
    except ImportError:
        return spandrel.MAIN_REGISTRY
    if not any(s.architecture.id == "SRFormer" for s in spandrel.MAIN_REGISTRY.architectures()):
        spandrel_extra_arches.install(ignore_duplicates=True)
    return spandrel.MAIN_REGISTRY


def import_spandrel() -> Any:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise EnvironmentProblem("reading PyTorch checkpoints needs torch, from srconvert's pytorch extra",
                                 hint=INSTALL_HINT) from None
    _stand_in_for_a_broken_torchvision()
    try:
        import spandrel
    except ImportError:
        raise EnvironmentProblem("reading PyTorch checkpoints needs spandrel, from srconvert's pytorch extra",
                                 hint=INSTALL_HINT) from None
    return spandrel


def _stand_in_for_a_broken_torchvision() -> None:
    """spandrel's package imports every architecture, and two that srconvert
    refuses anyway (LaMa, RestoreFormer) import torchvision, whose PyPI
    wheels do not load against the CPU build of torch ('operator
    torchvision::nms does not exist'). Where torchvision does not import, an
    empty stand-in lets spandrel import; nothing srconvert converts calls it."""
    if "spandrel" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # missing, or built for another torch
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = functional.rotate = functional.normalize = None
    sys.modules.update({"torchvision": types.ModuleType("torchvision"),
                        "torchvision.transforms": types.ModuleType("torchvision.transforms"),
                        "torchvision.transforms.functional": functional})


def detect(state_dict: dict[str, Any], path: Path, arch: str | None = None) -> Detected:
    """The network of `state_dict`, by spandrel's detection or `--arch`."""
    spandrel = import_spandrel()
    reg = registry()
    known = ", ".join(support.architecture.id for support in reg.architectures())
    if arch is None:
        support = next((s for s in reg.architectures("detection") if s.detect(state_dict)), None)
        if support is None:
            raise BadInput(
                f"no known architecture has these weights ({len(state_dict)} tensors, first "
                f"{next(iter(state_dict))!r})",
                path=path,
                hint=f"spandrel {spandrel.__version__} knows: {known}; if it is one of "
                     "them, pass --arch NAME",
            )
    else:
        support = next((s for s in reg.architectures() if s.architecture.id.lower() == arch.lower()), None)
        if support is None:
            raise BadInput(f"--arch {arch} is not an architecture spandrel knows", path=path,
                           hint=f"one of: {known}")
    descriptor = _load(support, state_dict, path)
    family = support.architecture.id
    if descriptor.purpose not in CONVERTED_PURPOSES or not isinstance(descriptor, spandrel.ImageModelDescriptor):
        what = {"FaceSR": "a face-restoration network", "Inpainting": "an inpainting network"}.get(
            descriptor.purpose, f"a {descriptor.purpose} network")
        raise BadInput(f"{family} is {what}, not super-resolution", path=path,
                       hint="srconvert converts super-resolution and same-size restoration networks")
    hyperparameters = getattr(descriptor.model, "hyperparameters", {}) or {}
    extra = type(support.architecture).__module__.startswith("spandrel_extra_arches")
    return Detected(descriptor, family, {k: _json_safe(v) for k, v in sorted(hyperparameters.items())},
                    RESTRICTIVE if extra else PERMISSIVE)


def _load(support: Any, state_dict: dict[str, Any], path: Path) -> Any:
    """The architecture built from the weights; a checkpoint that is only part
    of one (a missing or extra layer, a wrong shape) is named as such."""
    try:
        return support.architecture.load(state_dict).eval()
    except (RuntimeError, KeyError, IndexError, ValueError, AssertionError) as exc:
        detail = _key_summary(str(exc)) or first_line(exc)
        raise BadInput(
            f"these weights are only part of a network (named like {support.architecture.id}'s: {detail})",
            path=path,
            hint="convert the complete generator checkpoint (not a discriminator, an optimizer state or a shard)",
        ) from None


def _key_summary(message: str) -> str:
    """torch's missing/unexpected key lists, counted, with one of each."""
    missing = re.findall(r'Missing key\(s\) in state_dict: (.*?)(?:\.\s|$)', message, re.S)
    unexpected = re.findall(r'Unexpected key\(s\) in state_dict: (.*?)(?:\.\s|$)', message, re.S)
    parts = []
    for label, found in (("missing", missing), ("unexpected", unexpected)):
        if found:
            keys = [k.strip(' "\n') for k in found[0].split(",")]
            parts.append(f"{len(keys)} {label}, e.g. {keys[0]}")
    return "; ".join(parts)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return getattr(value, "__name__", None) or str(value)  # a layer class (SwinIR's norm_layer) by name
