"""What every format module's `load` returns (see sources.Source)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Loaded(NamedTuple):
    layer_weights: dict[str, list[Any]]
    reference: Any
    """A Runner for the source in its own runtime, or None."""
    keras2_model: Any = None
    """The model, when the source loads in tf_keras itself."""
    topology: dict[str, Any] | None = None
    """The topology, for a source whose loader builds it (weights-only, ONNX)."""
