"""parity.json and parity.md: the same numbers as the manifest, as a table.

A report is a claim: each verdict in it comes from a check that ran in this
run. A run that checked nothing (`--no-verify`) reads "not verified" where a
verdict would stand, never FAILED and never pass, and every report opens
with the source and the run's verdict (`headline`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converter.bundle.manifest import Artifact, without_timings
from converter.core.precisions import Gate
from converter.parity.metrics import number_text, psnr_text

COLUMNS = ("artifact", "layout", "runtime", "bytes", "max abs", "PSNR dB", "ms", "first ms", "gate", "pass")


def headline(source: str, summary: dict[str, Any], artifacts: list[Artifact]) -> str:
    """The run's verdict in one line, for the top of every report."""
    if not summary.get("verified"):
        return (f"Verdict: NOT VERIFIED. {source} was converted with --no-verify: no artifact ran against it, "
                "so nothing here is checked (`srconvert verify` with the source checks it).")
    results = [r for a in artifacts for r in (a.parity or {}).get("results", [])]
    failed = failed_runs(artifacts)
    client = summary.get("client")
    checks = f"{len(artifacts)} artifacts, {len(results)} runs" + (", the client check" if client else "")
    withheld = [record["entry"] for record in summary.get("not_published", [])]
    if summary.get("pass") and withheld:
        return (f"Verdict: PASS for what is published. Every other artifact matched {source} in every runtime "
                f"that ran ({checks}); not published, having failed their gates: {', '.join(withheld)}.")
    if summary.get("pass"):
        return f"Verdict: PASS. Every artifact matched {source} in every runtime that ran ({checks})."
    what = f"{len(failed)} of {len(results)} runs failed" if failed else "the client check failed"
    return f"Verdict: FAILED. {what} against {source} ({checks}); each is named below."


def rows(artifacts: list[Artifact], verified: bool = True) -> list[tuple[str, ...]]:
    """One row per artifact and runtime; `verified=False`: a run that
    checked nothing, whose rows say so."""
    table = []
    for artifact in artifacts:
        parity = artifact.parity or {}
        gate = parity.get("gate", {})
        gate_text = Gate.from_dict(gate).describe() if gate else "-"
        exempt = [{"runtime": runtime, "exempt": why} for runtime, why in (artifact.unsupported_backends or {}).items()]
        for result in [*parity.get("results", []), *exempt] or [{}]:
            table.append(
                (
                    artifact.entry,
                    artifact.layout.upper(),
                    result.get("runtime", "-"),
                    f"{artifact.bytes:,}",
                    number_text(result.get("max_abs"), "{:.2e}"),
                    psnr_text(result),
                    number_text(result.get("ms"), "{:.1f}"),
                    number_text(result.get("first_ms"), "{:.1f}"),
                    Gate.from_dict(result["gate"]).describe() if result.get("gate") else gate_text,  # a runtime's own
                    _verdict(result) if verified else "not verified",
                )
            )
    return table


def markdown(artifacts: list[Artifact], reference: dict[str, Any] | None, host: dict[str, str] | None = None,
             client: dict[str, Any] | None = None, verified: bool = True, head: list[str] = (),
             not_published: list[dict[str, Any]] = ()) -> str:
    """`head`: lines above the table (the headline, the input range);
    `not_published`: the artifacts the run withheld (pipeline.withhold)."""
    lines = [*(f"{line}\n" for line in head)]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(artifacts, verified)]
    if reference:
        lines.append("")
        lines.append(
            f"Reference: the source model in {reference['runtime']}"
            + (f" ({reference['ms']:.1f} ms median)" if "ms" in reference else "")
            + f" on {len(reference['inputs'])} inputs: "
            + ", ".join(f"{i['name']} {i['shape'][2]}x{i['shape'][1]}" for i in reference["inputs"])
            + "."
        )
    lines += judging_lines(artifacts, reference)
    lines += kept_lines(artifacts)
    if host and any(a.precision == "int8" for a in artifacts):
        lines.append(f"\nint8 kernels on this CPU: {host['int8_path']}.")
    if host and host.get("browser"):
        lines.append("\n" + browser_line(host["browser"]))
    if client:
        from converter.parity.client import describe

        lines.append("\n" + describe(client))
    for artifact in artifacts:
        for result in (artifact.parity or {}).get("results", []):
            if result.get("identical_to_source"):
                lines.append(f"\n{artifact.entry} is the source file, byte for byte: in {result['runtime']}, where the "
                             "reference ran it, its outputs are the reference's, so it was not run again.")
    withheld = {record["entry"]: record["reason"] for record in not_published}
    for name in failed_runs([a for a in artifacts if a.entry not in withheld]):
        lines.append(f"\nFAILED: {name}")
    for entry, reason in withheld.items():
        lines.append(f"\n{entry}: {reason}; its files were left out of the bundle.")
    for artifact in artifacts:
        for runtime, why in (artifact.unsupported_backends or {}).items():
            lines.append(f"\nUnsupported, so not run: {artifact.entry} in {runtime}: {why}.")
    return "\n".join(lines) + "\n"


def judging_lines(artifacts: list[Artifact], reference: dict[str, Any] | None) -> list[str]:
    """What each precision's gate was judged on, as the results record it
    (`judged_on`): a report never says more than was checked."""
    judged: dict[str, tuple[Gate, set[str], list[Any]]] = {}
    for artifact in artifacts:
        parity = artifact.parity or {}
        for result in parity.get("results", []):
            if result.get("judged_on") is not None:
                gate, names, clips = judged.setdefault(artifact.precision, (Gate.from_dict(parity["gate"]), set(), []))
                names.update(result["judged_on"])
                clips.append(result.get("clipped_to"))
    if not judged:
        return []
    photos = {i["name"] for i in (reference or {}).get("inputs", []) if i.get("photo")}
    lines = ["", "Gates, and the inputs each was judged on:"]
    for precision, (gate, names, clips) in judged.items():
        listed = ", ".join(sorted(names))
        if not (gate.on_photos and names <= photos):
            lines.append(f"- {precision}: {gate.describe()} on {len(names)} inputs ({listed}), against the "
                         "reference output's spread")
            continue
        if all(clips):
            low, high = clips[0]
            how = f"as shown: both outputs clipped to the pixel range {low:g}:{high:g}, peak {high - low:g}"
        else:
            how = ("unclipped, on their own spread where the source's output lies mostly outside the pixel range "
                   "(untrained weights?)")
        lines.append(f"- {precision}: {gate.describe()} on {len(names)} photos ({listed}), {how}; its numbers on "
                     "the noise tiles are in parity.json (`noise`), not gated")
    return lines


def kept_lines(artifacts: list[Artifact]) -> list[str]:
    """What each quantized artifact kept wider to meet its gate, and what it
    cost (quantizers.mixed_precision's record), measured on the calibration photos."""
    lines = []
    for artifact in artifacts:
        chosen = (artifact.quantization or {}).get("mixed_precision")
        if not chosen:
            continue
        kept = (f"kept {len(chosen['kept'])} {chosen['kept_as']} wider (+{chosen['kept_extra_bytes']:,} bytes)"
                if chosen["kept"] else "kept nothing wider")
        before, after = (number_text(chosen[key], "{:.1f}") for key in ("photos_db_all_quantized", "photos_db"))
        lines.append(f"- {artifact.entry}: {kept}; calibration photos {before} dB with everything quantized, "
                     f"{after} dB as written (target {chosen['target_db']:g} dB, {chosen['evaluations']} runs)")
    return ["", "What quantization kept wider to meet its gate:", *lines] if lines else []


def terminal_table(artifacts: list[Artifact], verified: bool = True) -> str:
    table = [COLUMNS, *rows(artifacts, verified)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table)


def document(artifacts: list[Artifact], summary: dict[str, Any]) -> dict[str, Any]:
    return {
        **summary,
        "artifacts": [
            {"format": a.format, "precision": a.precision, "entry": a.entry, "bytes": a.bytes, "parity": a.parity}
            for a in artifacts
        ],
    }


def browser_line(browser: dict[str, Any]) -> str:
    adapter = browser.get("adapter") or {}
    gpu = (
        f"WebGPU adapter {adapter.get('vendor') or '?'} {adapter.get('architecture') or ''}".rstrip()
        + f" (shader-f16 {'yes' if adapter.get('shader_f16') else 'no'}, "
        f"{adapter.get('max_storage_buffers_per_shader_stage')} storage buffers per shader stage)"
        if adapter else "no WebGPU adapter"
    )
    return f"Browser: Chromium {browser.get('chromium')}; {gpu}; WebGL renderer {browser.get('webgl') or 'none'}."


def write(out: Path, artifacts: list[Artifact], summary: dict[str, Any], timings: bool = True,
          browser: dict[str, Any] | None = None, memory_budget: int | None = None, head: list[str] = ()) -> None:
    """parity.json and parity.md; `timings=False` for byte-reproducible
    releases, which then also leave out the facts of the machine that ran
    (its CPU's int8 path, the browser and GPU adapter, the memory budget)."""
    parity_document = document(artifacts, summary)
    host = None
    if timings:
        from converter.core.host_cpu import int8_path

        host = parity_document["host"] = {"int8_path": int8_path().describe(), "browser": browser,
                                          "memory_budget_bytes": memory_budget}
    else:
        parity_document = without_timings(parity_document)
        artifacts = [Artifact.from_dict(without_timings(a.as_dict())) for a in artifacts]
        summary = without_timings(summary)
    (out / "parity.json").write_text(json.dumps(parity_document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "parity.md").write_text(
        markdown(artifacts, summary.get("reference"), host, summary.get("client"), bool(summary.get("verified")),
                 ["# Parity", *head], summary.get("not_published", [])), encoding="utf-8")


def failed_runs(artifacts: list[Artifact]) -> list[str]:
    """"entry in runtime" of every run that did not pass."""
    return [f"{a.entry} in {r.get('runtime')}" for a in artifacts for r in (a.parity or {}).get("results", [])
            if not r.get("pass")]


def failed(artifacts: list[Artifact]) -> list[str]:
    names = []
    for artifact in artifacts:
        for result in (artifact.parity or {}).get("results", []):
            if not result.get("pass"):
                max_abs = number_text(result.get("max_abs"), "{:.2e}")
                why = result.get("error") or f"PSNR {psnr_text(result)} dB, max abs {max_abs}"
                names.append(f"{artifact.entry} in {result.get('runtime')}: {why}")
    return names


def _verdict(result: dict[str, Any]) -> str:
    if not result:
        return "not run"
    if result.get("exempt"):
        return "unsupported"
    return "pass" if result.get("pass") else "FAIL"
