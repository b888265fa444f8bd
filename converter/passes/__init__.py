"""Passes: named edits of a canonical form, each run once and recorded once.

A pass declares the form it works on and why it exists:
- a *fix* repairs what a converter gets wrong, so the artifact loads and
  computes the source's function at all (`converter/passes/fixes/`);
- an *optimisation* makes the graph leaner while computing the same function
  within the float32 gate (`converter/passes/optimize/`, off with --no-optimize).

`run` edits the form in place and returns how many things it changed; the
manifest records every pass that changed something, under `fixes` or
`optimizations`, and `srconvert inspect` shows the fixes before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

# The forms a pass can act on.
KERAS_TOPOLOGY = "keras-topology"
"""The `{class_name, config}` JSON alone: run(topology)."""
KERAS = "keras"
"""Topology and weights by layer: run(topology, weights)."""
ONNX = "onnx"
"""An onnx.ModelProto: run(proto)."""

FIX = "fix"
OPTIMIZATION = "optimization"


@dataclass(frozen=True)
class Pass:
    name: str
    summary: str
    form: str
    purpose: str
    run: Callable[..., int]

    @classmethod
    def of(cls, module: Any, form: str, purpose: str) -> "Pass":
        """The pass a module defines: its `NAME`, `SUMMARY` and `run`. Every
        fix and optimisation is declared so."""
        return cls(module.NAME, module.SUMMARY, form, purpose, module.run)


@dataclass(frozen=True)
class Applied:
    """A pass that changed something, as the manifest records it."""

    name: str
    summary: str
    changes: int
    purpose: str = FIX

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "changes": self.changes}


def apply(passes: Iterable[Pass], form: str, *subject: Any, disabled: frozenset[str] = frozenset()) -> list[Applied]:
    """Run every pass not in `disabled` on `subject`, a model in `form`
    (edited in place), in order. A pass declared for another form is a bug,
    refused before it runs (TypeError), not a silent no-op."""
    passes = tuple(passes)
    wrong = [step.name for step in passes if step.form != form]
    if wrong:
        raise TypeError(f"passes {', '.join(wrong)} do not act on the {form} form")
    applied = []
    for step in passes:
        if step.name in disabled:
            continue
        changes = step.run(*subject)
        if changes:
            applied.append(Applied(step.name, step.summary, changes, step.purpose))
    return applied


def recorded(applied: Iterable[Applied], purpose: str) -> list[dict[str, Any]]:
    """The manifest's `fixes` or `optimizations` list."""
    return [a.as_dict() for a in applied if a.purpose == purpose]
