"""The canonical Keras form of a source, built once per run.

The fixes run once on the source's topology; the optimisations, when asked,
once on the fixed topology and its weights. Two ways in:
- A Keras 2 HDF5 file holds its topology as JSON and its weights by layer,
  which is all the writers need: read that way (as tensorflowjs_converter
  reads it), the form exists before TensorFlow is even imported, and the
  ONNX bundle is written and verifying while TensorFlow loads the file as
  the parity reference, on the reference lane.
- Every other source is loaded by its format module first (in its own Keras,
  or rebuilt from weights) and the form is made from what loaded. At most one
  Keras model is built: a tf_keras source is used as loaded.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from converter import sources
from converter.core import deadline
from converter.core.errors import BadInput
from converter.forms import keras_model
from converter.forms.keras_model import Canonical, ModelFacts
from converter.passes import Applied, fixes
from converter.sources import native


class KerasForm:
    def __init__(self, info: sources.SourceInfo, options: sources.SourceOptions,
                 disabled_fixes: frozenset[str] = frozenset(), optimize: bool = False) -> None:
        self.info = info
        self.options = options
        self.disabled_fixes = disabled_fixes
        self._lock = threading.Lock()
        self._source: sources.Source | None = None
        self._plain: Any = None
        self.facts: ModelFacts
        """Read off the file first where it can be; complete (scale included)
        once the source has loaded (`loaded`)."""
        early = self._from_file() if info.format == sources.detect.KERAS2_H5 else None
        if early is None:
            self._load()
        else:
            self.fixed_topology, self.fixes, self.canonical, self.facts = early
        self.optimizations: list[Applied] = []
        if optimize:
            from converter.passes import optimize as optimizations

            topology, weights, self.optimizations = optimizations.optimize_keras(
                self.canonical.topology, self.canonical.weights)
            if self.optimizations:  # a new function: no Keras model of it exists yet
                self.canonical = dataclasses.replace(self.canonical, topology=topology, weights=weights, built=None)

    @property
    def applied(self) -> list[Applied]:
        return [*self.fixes, *self.optimizations]

    def _from_file(self) -> tuple[dict, list[Applied], Canonical, ModelFacts] | None:
        """The form read with h5py alone; None for a file this cannot read
        (Keras then loads it first and reports what is wrong)."""
        from converter.sources import h5_weights

        info = self.info
        try:
            weights, names = h5_weights.read(info.path)
        except (OSError, KeyError, ValueError, TypeError):
            return None
        fixed, applied = fixes.apply_fixes(info.topology, self.disabled_fixes)
        facts = keras_model.facts_from_topology(fixed, weights)
        if facts is None:
            return None
        keras_model.check_finite(weights, names, info.path)
        canonical = Canonical(fixed, weights, names, facts.input_channels, None, facts.input_multiple,
                              self.options.user_layers, info.path)
        return fixed, applied, canonical, facts

    def loaded(self) -> ModelFacts:
        """Load the source in its own runtime (once, from any lane) and
        return the model's complete facts."""
        with self._lock:
            if self._source is None:
                early = self.facts
                self._load(keep_canonical=True)
                if (early.params, early.input_shape) != (self.facts.params, self.facts.input_shape):
                    raise BadInput(
                        f"the file's weights ({early.params:,} parameters) do not match the model Keras "
                        f"loads from it ({self.facts.params:,})",
                        path=self.info.path,
                        hint="re-save the model with model.save()",
                    )
        return self.facts

    def _load(self, keep_canonical: bool = False) -> None:
        info = self.info
        # Building is inside the deadline too: tf_keras retries a call whose
        # input is missing without end (graphs/topology.malformed refuses
        # the known shapes of that before any of this).
        with deadline.current().call(f"loading {info.path.name} ({info.format})",
                                     deadline.load_seconds(info.path)):
            source = sources.load(info, self.options)
            if not keep_canonical:
                self.fixed_topology, self.fixes = fixes.apply_fixes(source.topology, self.disabled_fixes)
            if source.keras2_model is not None:
                plain = source.keras2_model
                keras_model.check_finite(source.layer_weights, keras_model.weight_names(plain), info.path)
            else:
                plain = keras_model.build(self.fixed_topology, source.layer_weights, self.options.user_layers,
                                          info.path)
        self.facts = keras_model.facts(plain)
        self._source, self._plain = source, plain
        if keep_canonical:
            self.canonical.output_channels = int(plain.outputs[0].shape[-1])
            return
        # What tf_keras writes back has its own spellings (class names, keys)
        # of what the fixes repaired. They only change how a topology is
        # written, never what it computes, and are idempotent: run on the
        # canonical topology here, once, and not recorded again, every
        # target reads it fixed.
        topology = fixes.normalise(keras_model.topology_of(plain), self.disabled_fixes)
        self.canonical = Canonical(
            topology, native.layer_weights(plain), keras_model.weight_names(plain), self.facts.input_channels,
            int(plain.outputs[0].shape[-1]), self.facts.input_multiple, self.options.user_layers, info.path,
        )
        self.canonical.built = plain  # until an optimisation changes it, the plain model is the canonical one

    def plain(self) -> Any:
        """The tf_keras model of the fixed, unoptimised topology: the source's
        own when it loads in tf_keras, else rebuilt from its weights."""
        self.loaded()
        return self._plain

    reference_alongside = False
    """Not always: its reference loads (or runs) the Keras model, which a
    target that traces builds too; pipeline.execute.reference_alongside
    decides per plan."""

    def reference(self):
        """The source in its own runtime, loading on first use; for a source
        with none (a TFJS or weights-only file) the unoptimised rebuild, so
        parity still checks the optimisations."""
        from converter.backends.base import Deferred
        from converter.backends.keras.runner import KerasRunner

        def load():
            self.loaded()
            return self._source.reference or KerasRunner(self._plain)

        return Deferred(load)
