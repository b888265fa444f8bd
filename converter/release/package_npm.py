"""The npm package inside a release folder: package.json, a model card
README, and model.js, an ES module exporting a model definition UpscalerJS
takes as is (path, scale, modelType, inputRange, outputRange, meta, setup).

The package holds what its client loads (model.js, the TF.js precisions
model.js exports, their custom layers) and the card; the reports and the ONNX
files stay in the release folder beside it. Every claim the card and
package.json make is one the run checked: a release built with --no-verify
says it was not verified, and one converted from a file other than the
recipe's is described from that file, not from the recipe's text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter import __version__
from converter.bundle.manifest import Artifact, without_timings
from converter.parity import report
from converter.release.recipes import NOT_IN_WEIGHTS

STRAY_SHARE = 0.5
"""A measured output this share of the intended span beyond either bound is
far outside it (for 0:1, below -0.5 or above 1.5): UpscalerJS clips it."""
KEYWORDS = ("super-resolution", "upscaler", "upscalerjs", "tensorflowjs")


@dataclass(frozen=True)
class Label:
    """How the release describes itself, from the file actually converted."""

    description: str
    mismatches: tuple[tuple[str, Any, Any], ...]
    """(parameter, the recipe's value, the file's) where the recipe's text no longer fits."""


def _architecture(manifest: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    arch = manifest["source"].get("architecture") or {}
    return arch.get("family"), dict(arch.get("params") or {})


def described_params(text: str, keys) -> dict[str, int]:
    """The parameters a recipe's description names ("C4 D3 G32 G0 32",
    "C=4"), among `keys`: longer names first, so G0 32 is not read as G=0."""
    found: dict[str, int] = {}
    taken: list[range] = []
    for key in sorted(keys, key=len, reverse=True):
        pattern = rf"(?<![\w.]){re.escape(key)}(?:\s?=\s?|\s)?(\d+)(?!\w|\.\d)"
        for match in re.finditer(pattern, text):
            if key in found or any(match.start() in span for span in taken):
                continue
            found[key] = int(match.group(1))
            taken.append(range(match.start(), match.end()))
    return found


def label(recipe, manifest: dict[str, Any]) -> Label:
    """The release's description: the recipe's where it fits the converted
    file, else one written from the file that names the recipe's claim."""
    family, params = _architecture(manifest)
    keys = [k for k in params if k not in NOT_IN_WEIGHTS and isinstance(params[k], int)]
    claimed = {**described_params(recipe.description, keys),
               **{k: v for k, v in recipe.params.items() if k in keys}}
    mismatches = tuple((k, claimed[k], params[k]) for k in keys if k in claimed and claimed[k] != params[k])
    if not mismatches:
        return Label(recipe.description, ())
    shown = ", ".join(f"{k}={params[k]}" for k in keys if k in claimed)
    theirs = ", ".join(f"{k}={claimed[k]}" for k in keys if k in claimed)
    description = (f"{(family or 'model').upper()} x{manifest['model']['scale']} ({shown}), weights from "
                   f"{manifest['source']['path']}; the recipe {recipe.name} describes other weights ({theirs})")
    return Label(description, mismatches)


def stray_output(manifest: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """(measured, intended) when the source's measured output strays far
    outside the range the model is meant to produce, else None."""
    intended, measured = manifest["model"]["output_range"], manifest["model"]["output_range_measured"]
    if measured is None:
        return None
    low, high = intended
    margin = STRAY_SHARE * (high - low)
    return (list(measured), list(intended)) if measured[0] < low - margin or measured[1] > high + margin else None


def warnings(recipe, manifest: dict[str, Any]) -> list[str]:
    """One line per thing the release's text or its client cannot carry as the recipe says."""
    lines = []
    mismatches = label(recipe, manifest).mismatches
    if mismatches:
        lines.append(
            f"the recipe describes {', '.join(f'{k}={c}' for k, c, _ in mismatches)} but "
            f"{manifest['source']['path']} has {', '.join(f'{k}={a}' for k, _, a in mismatches)}: the release's "
            "description is written from the file, not the recipe's")
    stray = stray_output(manifest)
    if stray:
        measured, intended = stray
        lines.append(f"the source's output spans {_range_text(measured)} on the parity inputs, far outside the "
                     f"{_range_text(intended)} it is meant to produce: UpscalerJS will clip it to {_range_text(intended)}")
    return lines


def _range_text(values) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def _verified(manifest: dict[str, Any]) -> bool:
    return bool(manifest["parity"]["verified"])


def _package_json(recipe, manifest: dict[str, Any], files: list[str]) -> str:
    family, _ = _architecture(manifest)
    description = label(recipe, manifest).description
    if not _verified(manifest):
        description = f"NOT VERIFIED (built with --no-verify, never run against its source): {description}"
    document = {
        "name": recipe.name,
        "version": recipe.version,
        "description": description,
        "license": recipe.license,
        "type": "module",
        "main": "model.js",
        "exports": {".": "./model.js", "./package.json": "./package.json"},
        "files": files,
        # What the package is: it holds TF.js models only (the ONNX files stay in the release folder).
        "keywords": [*KEYWORDS, *([family] if family else []), *_tags(recipe)],
    }
    authors = _authors(recipe)
    if authors:
        # npm's author is one person; the others are its contributors.
        document["author"] = authors[0]
        if len(authors) > 1:
            document["contributors"] = authors[1:]
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _authors(recipe) -> list[str]:
    """The recipe's metadata `authors` (a zoo entry's `author`): who trained the weights."""
    authors = recipe.metadata.get("authors") or []
    return [str(a) for a in ([authors] if isinstance(authors, str) else authors)]


def _tags(recipe) -> list[str]:
    return [str(t) for t in recipe.metadata.get("tags") or [] if str(t) not in KEYWORDS]


def _entry(artifacts: list[Artifact], fmt: str, precision: str) -> str | None:
    return next((a.entry for a in artifacts if a.format == fmt and a.precision == precision), None)


def _choice(recipe, artifacts: list[Artifact]) -> tuple[Any, list[str], str]:
    """The target model.js points at, its precisions, and the default one."""
    return _choice_of(recipe.package_precision, artifacts)


def entry_precision(chosen: str, artifacts: list[Artifact]) -> str:
    """The precision model.js points at, for a recipe that chose `chosen`."""
    return _choice_of(chosen, artifacts)[2]


def _choice_of(chosen: str, artifacts: list[Artifact]) -> tuple[Any, list[str], str]:
    from converter.targets import TARGETS

    # The target UpscalerJS runs best (Target.upscalerjs: the TF.js layers model where there is one).
    target = min((TARGETS[a.format] for a in artifacts if TARGETS[a.format].upscalerjs is not None),
                 key=lambda t: t.upscalerjs)
    precisions = [a.precision for a in artifacts if a.format == target.name]
    # Where the recipe's choice was not published (it failed its gate), the smallest that was.
    return target, precisions, chosen if chosen in precisions else precisions[-1]


def packaged(recipe, artifacts: list[Artifact]) -> list[Artifact]:
    """The artifacts the npm package ships: the TF.js variants model.js exports."""
    target = _choice(recipe, artifacts)[0]
    return [a for a in artifacts if a.format == target.name]


def package_files(recipe, artifacts: list[Artifact]) -> list[str]:
    """package.json `files`: model.js, the card, the exported variants' files
    (and their custom layers). The licence is package.json's `license`."""
    return sorted({"model.js", "README.md", *(f["path"] for a in packaged(recipe, artifacts) for f in a.files)})


def _model_js(recipe, tiling, manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    target, precisions, precision = _choice(recipe, artifacts)
    kind, fmt = target.variant, target.name
    family, params = _architecture(manifest)
    meta = {
        "name": recipe.name,
        "version": recipe.version,
        "architecture": family,
        "parameters": params or None,
        # UpscalerJS reads no tiling from a definition: meta tells the caller
        # what to pass (for a fixed-size model, its size: the only one it runs).
        "patchSize": tiling.patch_size if tiling else None,
        "padding": tiling.padding if tiling else None,
        "inputSize": manifest["model"].get("input_size"),
        "precision": precision,
        # What the source produced on the parity inputs (null: not verified);
        # outputRange is what it is meant to produce, which UpscalerJS clips to.
        "measuredOutputRange": manifest["model"]["output_range_measured"],
        "verified": _verified(manifest),
        "convertedBy": f"srconvert {__version__}",
    }
    variants = ",\n".join(f"  {p}: here('./{_entry(artifacts, fmt, p)}')" for p in precisions)
    imports = "import { registerCustomLayers } from './tfjs/custom-layers.js';\n" if kind == "layers" else ""
    setup = "registerCustomLayers(tf)" if kind == "layers" else "undefined"
    return f"""// Generated by srconvert {__version__} from {Path(recipe.path).name}: an UpscalerJS model definition.
//   import Upscaler from 'upscaler';
//   import model from '{recipe.name}';
//   const upscaler = new Upscaler({{ model }});
{imports}
const here = (path) => new URL(path, import.meta.url).href;

/** Every TFJS precision in this package, by name. */
export const variants = {{
{variants},
}};

const modelDefinition = {{
  path: variants.{precision},
  scale: {manifest['model']['scale']},
  modelType: '{kind}',
  inputRange: {json.dumps(list(manifest['model']['input_range']))},
  outputRange: {json.dumps(list(manifest['model']['output_range']))},
  meta: {json.dumps(meta, sort_keys=True)},
  setup: (tf) => {setup},
}};

export default modelDefinition;
"""


def _measured_row(manifest: dict[str, Any]) -> str:
    measured = manifest["model"]["output_range_measured"]
    if measured is None:
        return "not measured (the release was not verified)"
    text = f"{_range_text(measured)} on the parity inputs"
    if stray_output(manifest):
        text += f"; far outside {_range_text(manifest['model']['output_range'])}, which UpscalerJS clips it to"
    return text


def _weights_row(manifest: dict[str, Any]) -> str:
    source = manifest["source"]
    return f"`{source['path']}` (sha256 `{source['sha256']}`)"


def _release_folder_line(recipe, manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    shipped = {a.entry for a in packaged(recipe, artifacts)}
    kept = [a.entry for a in artifacts if a.entry not in shipped]
    reports = ["manifest.json", "parity.md", "parity.json", "parity.html"]
    return ("ONNX artifacts and the full parity report are in the release folder, not in the npm package: "
            + ", ".join(f"`{path}`" for path in [*kept, *reports]) + ".")


def _parity_section(manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    # The model card must be byte-reproducible: no timings.
    stable = [Artifact.from_dict(without_timings(a.as_dict())) for a in artifacts]
    parity = manifest.get("parity") or {}
    source = manifest["source"]["path"]
    if not _verified(manifest):
        return f"""**This release was NOT verified.** It was built with `--no-verify`: none of its artifacts has been
checked against the source model ({source}), so nothing in this package is proven to match it.
{_verify_hint(source)}

{report.markdown(stable, None, verified=False)}
`manifest.json`, `parity.json` and `parity.md` (in the release folder) hold no parity numbers: none were measured.
"""
    reference = without_timings(parity.get("reference"))
    return f"""Every artifact below was run in its real runtime against {source} by
srconvert {__version__} before this package was written.

{report.markdown(stable, reference, not_published=parity.get("not_published", []))}
Full numbers: `manifest.json`, `parity.json`; pictures: `parity.html` (in the release folder).
"""


def _not_published_lines(manifest: dict[str, Any]) -> str:
    """The artifacts the build left out for failing their gates (pipeline.withhold), if any."""
    withheld = (manifest.get("parity") or {}).get("not_published", [])
    if not withheld:
        return ""
    return "\nNot in this release, having failed their gates:\n\n" + "\n".join(
        f"- `{record['entry']}`: {record['reason']}" for record in withheld) + "\n"


def _verify_hint(source: str) -> str:
    return f"To check it, run `srconvert verify` on the release folder, with `--source` naming {source}."


def _top(manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    """The card's first line: the run's verdict against the named source."""
    return f"**{report.headline(manifest['source']['path'], manifest.get('parity') or {}, artifacts)}**"


def _optional_rows(recipe, upstream: str | None) -> str:
    rows = [("authors", ", ".join(_authors(recipe))), ("tags", ", ".join(_tags(recipe))), ("upstream", upstream)]
    return "\n".join(f"| {name} | {value} |" for name, value in rows if value)


def _readme(recipe, tiling, manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    family, params = _architecture(manifest)
    params_text = ", ".join(f"{k}={v}" for k, v in params.items())
    shipped = {a.entry for a in packaged(recipe, artifacts)}
    rows = [f"| `{a.entry}` | {a.format} | {a.precision} | {a.layout.upper()} | {a.bytes:,} | "
            f"{'yes' if a.entry in shipped else 'no'} |" for a in artifacts]
    stable = [Artifact.from_dict(without_timings(a.as_dict())) for a in artifacts]
    upstream = recipe.metadata.get("upstream")
    named = label(recipe, manifest)
    recipe_note = (f"\nThe recipe's own description is of other weights, not of these: _{recipe.description}_\n"
                   if named.mismatches else "")
    return f"""# {recipe.name} {recipe.version}

{_top(manifest, stable)}

{named.description}
{recipe_note}
| | |
|---|---|
| architecture | {family or '-'} ({params_text or '-'}) |
| weights | {_weights_row(manifest)} |
| scale | x{manifest['model']['scale']} |
| parameters | {manifest['model']['params']:,} |
| input range | {list(manifest['model']['input_range'])} ({manifest['model']['input_range_origin']}: {manifest['model']['input_range_evidence']['reason']}) |
| output range | {list(manifest['model']['output_range'])} (what the model is meant to produce) |
| output range (measured) | {_measured_row(manifest)} |
| tiles | {_tiles(tiling, manifest)} |
| licence | {recipe.license} |
{_optional_rows(recipe, upstream)}

## Use with UpscalerJS

```js
import Upscaler from 'upscaler';
import model from '{recipe.name}';

const upscaler = new Upscaler({{ model }});
const upscaled = await upscaler.upscale(image{_upscale_options(tiling)});
```

`model.js` also exports `variants`, the URL of every TFJS precision.

{_client_line(manifest)}

## Artifacts

| entry | format | precision | layout | bytes | in the npm package |
|---|---|---|---|---|---|
{chr(10).join(rows)}
{_not_published_lines(manifest)}
{_release_folder_line(recipe, manifest, artifacts)}

## Parity

{_parity_section(manifest, artifacts)}"""


def _tiles(tiling, manifest: dict[str, Any]) -> str:
    if tiling is None:
        return "whole image"
    fixed = manifest["model"].get("input_size")
    return tiling.describe() + (f" (the model is fixed to {fixed} inputs)" if fixed else "")


def _upscale_options(tiling) -> str:
    return f", {{ patchSize: {tiling.patch_size}, padding: {tiling.padding} }}" if tiling else ""


def _client_line(manifest: dict[str, Any]) -> str:
    from converter.parity.client import describe

    check = (manifest.get("parity") or {}).get("client")
    if not check:
        return "This package was not run by UpscalerJS at build time (`srconvert build --browser` does that)."
    return f"Checked at build time, in Chromium: {describe(check)}"


def write_entry(stage: Path, recipe, tiling, manifest: dict[str, Any], artifacts: list[Artifact]) -> str:
    """model.js; returns the precision it points at. `tiling`: how UpscalerJS
    tiles the model (parity.client.Tiling), or None for whole images."""
    (stage / "model.js").write_text(_model_js(recipe, tiling, manifest, artifacts), encoding="utf-8")
    return _choice(recipe, artifacts)[2]


def write(stage: Path, recipe, tiling, manifest: dict[str, Any], artifacts: list[Artifact]) -> None:
    """package.json and the model card, after write_entry."""
    files = package_files(recipe, artifacts)
    (stage / "package.json").write_text(_package_json(recipe, manifest, files), encoding="utf-8")
    (stage / "README.md").write_text(_readme(recipe, tiling, manifest, artifacts), encoding="utf-8")
