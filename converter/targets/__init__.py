"""Output targets: one entry per kind of artifact srconvert writes.

Everything that depends on the output format reads this registry: the CLI's
`--format`, `--tfjs-model` and `--quantize` choices, the precision check, the
gates, which runtimes verify an artifact, how its weights are counted, its
quantizers, its page on the self-check page, and the npm package. Adding a
target is one module, like `tfjs.py` or `onnx.py`, and one line here; nothing
outside `targets/` compares a target's name.

Reports and manifests list artifacts in this order.
"""

from __future__ import annotations

from typing import Any

from converter.core import precisions
from converter.core.registry import Registry
from converter.targets.base import Target
from converter.targets.ncnn import NCNN
from converter.targets.onnx import ONNX
from converter.targets.tfjs import TFJS_GRAPH, TFJS_LAYERS
from converter.targets.transformersjs import TRANSFORMERSJS

TARGETS: Registry[Target] = Registry("target", (TFJS_LAYERS, TFJS_GRAPH, ONNX, TRANSFORMERSJS, NCNN))

FORMATS = tuple(dict.fromkeys(t.format for t in TARGETS))
"""`--format` choices."""
DEFAULT_FORMATS = tuple(dict.fromkeys(t.format for t in TARGETS if t.default))
"""What `--format` writes when not given."""
VARIANTS = {fmt: tuple(t.variant for t in TARGETS if t.format == fmt and t.variant) for fmt in FORMATS}
"""Per format, its `--tfjs-model`-style variants (empty for single-variant formats)."""


_UNKNOWN = sorted({p for t in TARGETS for p in t.precisions} - set(precisions.PRECISIONS.names()))
if _UNKNOWN:  # a target may only write what core.precisions gates
    raise ImportError(f"targets declare precisions core.precisions does not list: {', '.join(_UNKNOWN)}")


def precisions_of(fmt: str) -> tuple[str, ...]:
    """What `--format fmt` can be quantized to, in the registry's order."""
    have = {p for t in TARGETS if t.format == fmt for p in t.precisions}
    return tuple(p.name for p in precisions.PRECISIONS if p.name in have)


PRECISIONS = tuple(dict.fromkeys(p for fmt in FORMATS for p in precisions_of(fmt)))
"""`--quantize` choices."""


def offered(formats: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `wanted` that some format of `formats` writes: the default
    precisions, for formats that do not write them all (NCNN: no uint8)."""
    have = {p for fmt in formats for p in precisions_of(fmt)}
    return tuple(p for p in wanted if p in have)


def records(emitters) -> dict[str, Any]:
    """What the run's emitters recorded, over every target's declared
    defaults: the manifest writes these keys as they are. Two emitters
    recording one key differently is a bug, not a choice of the last."""
    merged: dict[str, Any] = {key: value for target in TARGETS for key, value in target.records.items()}
    seen: dict[str, Any] = {}
    for emitter in emitters:
        for key, value in emitter.record.items():
            if key in seen and seen[key] != value:
                raise AssertionError(f"targets record {key} twice: {seen[key]!r} and {value!r}")
            seen[key] = merged[key] = value
    return merged


def libraries() -> tuple[str, ...]:
    """The Python distributions that write or verify any target's
    artifacts, besides those every run reads sources with: the manifest and
    `doctor` name their versions."""
    from converter.backends.registry import RUNTIMES

    return tuple(dict.fromkeys([*(lib for t in TARGETS for lib in t.libraries),
                                *(lib for r in RUNTIMES for lib in r.libraries)]))


def cli_options() -> list[Any]:
    """Every target's `convert` options (click.Option), each once, in registry order."""
    found: dict[str, Any] = {}
    for target in TARGETS:
        for option in target.options:
            found.setdefault(option.name, option)
    return list(found.values())


def selected(formats: tuple[str, ...], variants: tuple[str, ...]) -> list[Target]:
    """The targets `--format` and `--tfjs-model` select, in emission order."""
    return [t for t in TARGETS if t.format in formats and (t.variant is None or t.variant in variants)]
