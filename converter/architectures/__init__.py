"""Model families srconvert can rebuild from a weights-only file (after
spandrel): each module has `detect` (a predicate over layer names and weight
shapes), `infer` (every hyperparameter from those shapes) and `build` (the
network, with srconvert's custom layers) and its `Params`; each is a
`Family` entry of the ordered registry `FAMILIES`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from converter.architectures import rdn, rrdn
from converter.core.errors import BadInput
from converter.core.registry import Registry


@dataclass(frozen=True)
class Family:
    """One weights-only family's module, as the registry holds it."""

    name: str
    detect: Callable[["WeightsIndex"], bool]
    infer: Callable[["WeightsIndex"], Any]
    """Every hyperparameter the weights show (a `Params`; None where they cannot)."""
    build: Callable[..., Any]
    """`build(keras, params, name)`: the network."""
    params: type
    """Its hyperparameters' dataclass."""

    @classmethod
    def of(cls, module: ModuleType) -> "Family":
        return cls(module.NAME, module.detect, module.infer, module.build, module.Params)


FAMILIES: Registry[Family] = Registry("weights-only family", (Family.of(rrdn), Family.of(rdn)))


@dataclass(frozen=True)
class WeightsIndex:
    """A weights-only file: weight shapes per layer, and its file name (ISR
    encodes what weights cannot show, such as an UpSampling2D head's scale)."""

    shapes: dict[str, list[tuple[int, ...]]]
    filename: str

    def has(self, *layers: str) -> bool:
        return all(layer in self.shapes for layer in layers)

    def out_channels(self, layer: str) -> int:
        return int(self.shapes[layer][0][-1])

    def kernel_size(self, layer: str) -> int:
        return int(self.shapes[layer][0][0])

    def indices(self, pattern: str) -> list[tuple[int, ...]]:
        """Integer groups of every layer name matching `pattern` (a regex)."""
        compiled = re.compile(pattern)
        return [tuple(int(g) for g in m.groups()) for name in self.shapes if (m := compiled.fullmatch(name))]

    def filename_param(self, key: str) -> int | None:
        """`x2` or `C6` style parameters from an ISR file name."""
        match = re.search(rf"(?:^|[-_]){key}(\d+)(?=[-_.]|$)", Path(self.filename).name)
        return int(match.group(1)) if match else None


def detect(index: WeightsIndex) -> Family:
    for family in FAMILIES:
        if family.detect(index):
            return family
    raise BadInput(
        f"the weights match no known architecture (tried: {', '.join(FAMILIES.names())})",
        path=index.filename,
        hint="name the family with --arch NAME --arch-params K=V,... or convert a full-model file",
    )


def parse_overrides(text: str | None) -> dict[str, Any]:
    """`C=4,D=3,x=4,beta=0.2,upscaling=shuffle` -> typed values."""
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise BadInput(f"--arch-params item {item!r} is not KEY=VALUE", hint="e.g. --arch-params C=4,D=3,x=4")
        try:
            value: Any = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
        values[key.strip()] = value
    return values


def resolve(index: WeightsIndex, arch: str | None, overrides: dict[str, Any]) -> tuple[Family, Any]:
    """(Family, its Params): detected and inferred, then overridden."""
    if arch is not None and arch not in FAMILIES:
        raise BadInput(f"--arch {arch!r} is not a known family", hint=f"families: {', '.join(FAMILIES.names())}")
    family = FAMILIES[arch] if arch else detect(index)
    params = family.infer(index) if family.detect(index) else family.params()
    fields = {f.name for f in dataclasses.fields(params)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise BadInput(
            f"--arch-params {', '.join(unknown)} unknown for {family.name}",
            hint=f"{family.name} takes {', '.join(sorted(fields))}",
        )
    params = dataclasses.replace(params, **overrides)
    missing = [f.name for f in dataclasses.fields(params) if getattr(params, f.name) is None]
    if missing:
        raise BadInput(
            f"{family.name}: {', '.join(missing)} cannot be read from the weights or the file name "
            "(an UpSampling2D head has no weights)",
            path=index.filename,
            hint=f"pass --arch-params {missing[0]}=2 (or name the file as ISR does: ...-{missing[0]}2_...)",
        )
    return family, params
