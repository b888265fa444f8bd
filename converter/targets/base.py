"""What an output target declares, and the emitter it opens once per run."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from converter.manifest import Artifact
    from converter.passes import Applied

KERAS_FORM = "keras"
"""The canonical Keras form: keras_model.Canonical (NHWC topology and weights)."""
ONNX_FORM = "onnx"
"""The canonical ONNX form of an ONNX source: onnx_form.OnnxForm (the source graph)."""


@dataclass(frozen=True)
class Target:
    name: str
    """The artifact format, as manifests and reports name it (tfjs-layers)."""
    format: str
    """The `--format` value that selects it (tfjs)."""
    variant: str | None
    """The `--tfjs-model` value that selects it among its format's targets."""
    folder: str
    """Where its artifacts go in a bundle, one subfolder per precision."""
    precisions: tuple[str, ...]
    reads: tuple[str, ...]
    """The canonical forms it can be emitted from, preferred first; the plan
    picks one per source (`converter.plan.form_for`)."""
    runtimes: tuple[str, ...]
    """Names in converter.backends.RUNTIMES that verify its artifacts."""
    browser_runtimes: tuple[str, ...]
    """The runtimes that verify it in a browser too, with --browser."""
    emitter: str
    """The module whose `Emitter(target, form, options, stage, progress)` writes it."""
    needs_tensorflow: bool = True
    """Whether emitting it imports TensorFlow (those that don't go first)."""
    unsupported: dict[tuple[str, str], str] = field(default_factory=dict)
    """(precision, runtime) -> why that runtime cannot run that precision."""

    def unsupported_for(self, precision: str) -> dict[str, str] | None:
        """The runtimes an artifact of `precision` is exempt from, and why."""
        found = {runtime: why for (p, runtime), why in self.unsupported.items() if p == precision}
        return found or None

    def open(self, form: Any, options: Any, stage: Path, progress: Any) -> "Emitter":
        import importlib

        return importlib.import_module(self.emitter).Emitter(self, form, options, stage, progress)

    def check(self, info: Any, form: str, options: Any) -> None:
        """Refuse, before any work, a source this target cannot be made from
        through `form` (the emitter module's `check`, where it has one)."""
        import importlib

        check = getattr(importlib.import_module(self.emitter), "check", None)
        if check is not None:
            check(self, info, form, options)


class Emitter(abc.ABC):
    """One target's writer for one run: whatever is shared across precisions
    (an export, a traced graph, the passes) happens once, in the constructor."""

    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any) -> None:
        self.target = target
        self.form = form
        self.options = options
        self.stage = stage
        self.progress = progress
        self.applied: list["Applied"] = []
        """The passes this target ran on its own form."""
        self.record: dict[str, Any] = {}
        """What the manifest records of this target (e.g. the ONNX exporter)."""

    @abc.abstractmethod
    def emit(self, precision: str) -> "Artifact":
        """Write one precision into `stage / target.folder / precision`."""

    def folder(self, precision: str) -> Path:
        return self.stage / self.target.folder / precision

    def artifact(self, precision: str, files: list[Path], **fields: Any) -> "Artifact":
        """The manifest entry of `files`, the first of which a runtime opens."""
        from converter import manifest

        return manifest.Artifact(
            format=self.target.name,
            precision=precision,
            entry=files[0].relative_to(self.stage).as_posix(),
            files=manifest.describe_files(self.stage, files),
            **fields,
        )
