"""The comparator (after Polygraphy's): a run's arrays against the
reference's, judged by a gate. It knows nothing of runtimes or lanes."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.core.precisions import Gate
from converter.parity import metrics as parity_metrics
from converter.parity.runs import Reference, Run

SHOWN_SHARE = 0.5
"""Photos are judged as shown (clipped to the pixel range) when at least
this share of the source's output on them lies inside that range."""
def judge(run: Run, reference: Reference, gate: Gate, pixel_range: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """The parity result of one run against the reference; against a
    vacuous reference, a failure that says why. `pixel_range`: the range
    the model's outputs are shown in, which a gate on photos clips to and
    takes as its peak (core.precisions)."""
    error = run.error or reference.vacuous()
    if error is not None:
        return {"runtime": run.runtime, "pass": False, "error": error, "ms": None}
    references = [reference.outputs[i] for i in run.indices]
    judged_by = None
    if run.runner is not None:  # a runtime whose output format cannot carry the source's own values
        vacuous = run.runner.vacuous(references)
        if vacuous is not None:
            return {"runtime": run.runtime, "pass": False, "error": vacuous, "ms": None}
        references = [run.runner.expected(r) for r in references]
        adjusted = run.runner.gate(gate, reference.value_range)
        gate, judged_by = adjusted, (adjusted if adjusted != gate else None)
    measured, on, noise, shown = _measure(run, reference, references, gate, pixel_range)
    result = {
        "runtime": run.runtime,
        **measured.as_dict(),
        "ms": None if run.ms is None else round(run.ms, 3),
        "first_ms": None if run.first_ms is None else round(run.first_ms, 3),
        "pass": gate.passes(measured),
        "error": None,
        "judged_on": [reference.inputs[run.indices[k]].name for k in on],
    }
    if shown:
        result["clipped_to"] = list(pixel_range)
    if noise is not None:
        result["noise"] = {key: value for key, value in noise.as_dict().items() if key != "output_range"}
    if judged_by is not None:
        result["gate"] = judged_by.as_dict()
    if run.identical:
        result["identical_to_source"] = True
    if len(run.indices) < len(reference.outputs):
        result["inputs"] = [reference.inputs[i].name for i in run.indices]
    return result


def _measure(run: Run, reference: Reference, references: list[np.ndarray], gate: Gate,
             pixel_range: tuple[float, float]):
    """The metrics `gate` judges, the positions in `run.indices` they were
    measured on, for a gate on photos the same run's metrics on the other
    inputs (reported, never gated) or None, and whether the outputs were
    judged as shown (clipped to `pixel_range`, which is then the peak). A run with no photo
    among its inputs is judged on all of them, on the reference's spread,
    and `judged_on` says so by naming them. Photos on which the source's
    output mostly lies outside the pixel range (untrained weights, or a
    range the model was not made for) are compared unclipped, on their own
    spread: as shown, nearly every pixel would be clipped alike, and the
    check would prove nothing."""
    everything = list(range(len(run.indices)))
    photos = [k for k in everything if reference.inputs[run.indices[k]].is_photo]
    if not (gate.on_photos and photos):
        return parity_metrics.compare(references, run.outputs, reference.value_range), everything, None, False
    expected, outputs = [references[k] for k in photos], [run.outputs[k] for k in photos]
    as_shown = parity_metrics.share_inside(expected, pixel_range) >= SHOWN_SHARE
    if as_shown:
        measured = parity_metrics.compare_as_shown(expected, outputs, pixel_range)
    else:  # clipping would hide most of the difference: judged on the photos' own spread
        measured = parity_metrics.compare(expected, outputs, parity_metrics.output_range(expected))
    rest = [k for k in everything if k not in photos]
    noise = (parity_metrics.compare([references[k] for k in rest], [run.outputs[k] for k in rest],
                                    reference.value_range) if rest else None)
    return measured, photos, noise, as_shown


def outcome(result: dict[str, Any]) -> str:
    """A result in a few words, for progress lines and parity.html."""
    if result.get("error"):
        return f"FAIL ({result['error']})"
    if result.get("identical_to_source"):
        return "pass (the source file itself, byte for byte: its outputs here are the reference's)"
    verdict = "pass" if result["pass"] else "FAIL"
    return f"{verdict} (PSNR {parity_metrics.psnr_text(result)} dB, max abs {result['max_abs']:.2e})"
