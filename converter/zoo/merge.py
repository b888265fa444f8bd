"""`srconvert zoo merge DIST... -o ZOO`: the shards' release folders as one
zoo: ZOO/<id>/ for every model that passed, ZOO/index.json (one record per
built model, passed or not) and ZOO/index.html, an offline gallery.

The shards must come from one plan, and each planned model from exactly one
shard: a model two shards built, or none did, is an error, not a guess. The
zoo depends only on the models' folders and outcomes, never on how many
shards built them, so it is byte-identical whatever N was. It is written in
a staging folder and renamed into place, like a bundle.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput

GALLERY = "gallery"
"""ZOO/gallery/<id>.png: each model's before/after crop."""


def read_records(dists: list[Path]) -> tuple[dict[str, int], dict[str, tuple[Path, dict]]]:
    """The plan all shards share, and each model's outcome with its shard's folder."""
    plan: dict[str, int] | None = None
    models: dict[str, tuple[Path, dict]] = {}
    shards_seen: dict[str, Path] = {}
    for dist in dists:
        records = sorted(Path(dist).glob("zoo-shard-*-of-*.json"))
        if not records:
            raise BadInput("holds no zoo-shard-*.json: not the output of `srconvert zoo build`", path=dist,
                           hint="give the -o folders of the shards' `zoo build` runs")
        for path in records:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                shard, shard_plan, outcomes = record["shard"], record["plan"], record["models"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise BadInput(f"cannot read this shard record ({error})", path=path) from None
            if plan is not None and shard_plan != plan:
                raise BadInput("this shard was built from another plan than the others (a different index, "
                               "weights or --shards)", path=path, hint="build every shard from the same plan")
            plan = shard_plan
            if shard in shards_seen:
                raise BadInput(f"shard {shard} is given twice ({shards_seen[shard]} and {path.parent})", path=path)
            shards_seen[shard] = path.parent
            for model_id, outcome in outcomes.items():
                if model_id in models:
                    raise BadInput(f"model {model_id} was built by two shards ({models[model_id][0]} and "
                                   f"{path.parent})", path=path,
                                   hint="merge the outputs of one plan's shards once each")
                models[model_id] = (path.parent, outcome)
    assert plan is not None
    missing = sorted(set(plan) - set(models))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise BadInput(f"{len(missing)} planned model{'s' if len(missing) > 1 else ''} no shard built: {shown}",
                       hint="merge the outputs of every shard, 1/N to N/N")
    return plan, models


def merge(dists: list[Path], out: Path, force: bool = False) -> dict[str, Any]:
    from converter.bundle import staging

    _, models = read_records(dists)
    out = staging.destination(out)
    staging.check_destination(out, force)
    stage = staging.create(out)
    try:
        records = []
        for model_id in sorted(models):
            dist, outcome = models[model_id]
            records.append(_add(stage, model_id, dist, outcome))
        packs = _packs(stage, records)
        index = {"models": records, **({"packs": packs} if packs else {}), "passed": sum(r["pass"] for r in records), "total": len(records)}
        (stage / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (stage / "index.html").write_text(gallery(records, packs), encoding="utf-8")
        _write_manifest(stage)
    except BaseException:
        staging.discard(stage)
        raise
    staging.publish(stage, out)
    return index


def _add(stage: Path, model_id: str, dist: Path, outcome: dict) -> dict[str, Any]:
    folder = outcome.get("folder") or outcome.get("failed_folder")
    manifest = _manifest(dist / folder) if folder else None
    passed = outcome.get("exit_code") == 0 and bool(manifest and manifest["parity"].get("verified"))
    damaged = _damaged(dist / folder, manifest) if passed else None
    passed = passed and not damaged
    if passed:
        shutil.copytree(dist / folder, stage / model_id)
    record = summary(model_id, manifest)
    record["pass"] = passed
    record["reason"] = None if passed else (damaged or outcome.get("reason") or "no verified release")
    record["has_check_page"] = passed and (stage / model_id / "check.html").is_file()
    ranges = (manifest or {}).get("model") or {}
    if passed and crop(stage / model_id, stage / GALLERY / f"{model_id}.png",
                       ranges.get("input_range", [0, 1])[1], ranges.get("output_range", [0, 1])[1]):
        record["crop"] = f"{GALLERY}/{model_id}.png"
    return record


def _packs(stage: Path, records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each passing model's artifact of a target that declares a pack
    (targets.base.Target.pack), copied into that pack's folder: an NCNN
    zoo is an Upscayl models folder too. Each record names its entry there
    (`packs`); a file name two models share stays in their own folders only."""
    from converter.targets import TARGETS

    packs: dict[str, list[str]] = {}
    for target in (t for t in TARGETS if t.pack):
        folder, taken = stage / target.pack, {}
        for record in (r for r in records if r["pass"]):
            built = {a["precision"]: a for a in record["artifacts"] if a["format"] == target.name}
            chosen = next((built[p] for p in target.pack_prefers if p in built), None)
            if chosen is None:
                continue
            files = sorted((stage / record["id"] / chosen["entry"]).parent.iterdir())
            if any(f.name in taken for f in files):
                record.setdefault("packs", {})[target.pack] = None
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copyfile(file, folder / file.name)
                taken[file.name] = record["id"]
            record.setdefault("packs", {})[target.pack] = f"{target.pack}/{Path(chosen['entry']).name}"
            packs.setdefault(target.pack, []).append(record["id"])
    return packs


def _damaged(release: Path, manifest: dict) -> str | None:
    """Why a shard's release is not what its manifest verified (a shard's
    output travels between machines), or None when every file matches."""
    from converter.bundle.manifest import check_files

    files = [*(f for a in manifest.get("artifacts") or [] for f in a.get("files") or []),
             *((manifest.get("check_page") or {}).get("files") or [])]
    changed, missing = check_files(release, files)
    if not changed and not missing:
        return None
    shown = ", ".join([*changed, *missing][:3])
    return f"its files differ from its manifest ({shown}): the shard's output was damaged after it was verified"


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def summary(model_id: str, manifest: dict | None) -> dict[str, Any]:
    """A model's index record from its manifest: what was built and what ran."""
    release = (manifest or {}).get("release") or {}
    meta = release.get("metadata") or {}
    artifacts = []
    for artifact in (manifest or {}).get("artifacts") or []:
        verdicts = {r["runtime"]: ("pass" if r.get("pass") else "fail") for r in artifact["parity"]["results"]}
        verdicts.update({runtime: "unsupported" for runtime in (artifact.get("unsupported_backends") or {})})
        artifacts.append({
            "entry": artifact["entry"], "format": artifact["format"], "precision": artifact["precision"],
            "bytes": sum(f["bytes"] for f in artifact["files"]),
            "sha256": next((f["sha256"] for f in artifact["files"] if f["path"] == artifact["entry"]), None),
            "verdicts": dict(sorted(verdicts.items())),
        })
    model = (manifest or {}).get("model") or {}
    withheld = ((manifest or {}).get("parity") or {}).get("not_published", [])
    return {"id": model_id, "name": meta.get("name", model_id), "architecture": meta.get("architecture"),
            "scale": model.get("scale"), "license": release.get("license"), "authors": meta.get("authors", []),
            "artifacts": artifacts,
            # Left out of the release for failing their gates, each with what it measured against which gate.
            "not_published": [{"entry": r["entry"], "reason": r["reason"]} for r in withheld]}


def crop(release: Path, target: Path, input_high: float, output_high: float, size: int = 48) -> bool:
    """A before/after crop from the check page's reference (check/reference.*):
    the first photo, nearest-neighbour enlarged, beside what the source made
    of it. Nothing runs; False where the release has no page."""
    import numpy as np
    from PIL import Image

    try:
        reference = json.loads((release / "check" / "reference.json").read_text(encoding="utf-8"))
        blob = (release / "check" / "reference.bin").read_bytes()
        position = next(i for i, item in enumerate(reference["inputs"]) if item.get("photo"))
        item, output = reference["inputs"][position], reference["outputs"][position]
    except (OSError, ValueError, KeyError, StopIteration):
        return False
    _, h, w, c = item["shape"]
    _, oh, ow, _ = output["shape"]
    pixels = np.frombuffer(blob, np.float32, h * w * c, item["offset"]).reshape(h, w, c)
    steps = np.frombuffer(blob, np.uint16, oh * ow * c, output["offset"]).reshape(oh, ow, c)
    after = output["low"] + output["step"] * steps.astype(np.float64)
    scale = oh // h
    before = np.repeat(np.repeat(pixels, scale, 0), scale, 1)
    side = min(size * max(scale, 1), oh, ow)
    top, left = (oh - side) // 2, (ow - side) // 2
    pair = np.concatenate([before[top:top + side, left:left + side] / input_high,
                           after[top:top + side, left:left + side] / output_high], 1)
    image = np.clip(np.rint(pair * 255.0), 0, 255).astype(np.uint8)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(target, format="PNG")
    return True


def gallery(records: list[dict[str, Any]], packs: dict[str, list[str]] | None = None) -> str:
    rows = []
    for r in records:
        e = html.escape
        sizes = "<br>".join(f"{e(a['entry'])}: {a['bytes']:,} B" for a in r["artifacts"])
        verdicts = "<br>".join([*(f"{e(a['precision'])} {e(a['format'])}: " + ", ".join(
            f"{e(k)} {e(v)}" for k, v in a["verdicts"].items()) for a in r["artifacts"]),
            *(f"{e(w['entry'])}: {e(w['reason'])}" for w in r.get("not_published", []))])
        links = (f'<a href="{e(r["id"])}/parity.html">parity report</a>'
                 + (f' · <a href="{e(r["id"])}/check.html">check it in your browser</a>' if r["has_check_page"] else "")
                 if r["pass"] else e(r["reason"] or ""))
        image = f'<img src="{e(r["crop"])}" alt="before and after">' if r.get("crop") else ""
        rows.append(f'<tr class="{"pass" if r["pass"] else "fail"}"><td><b>{e(r["name"])}</b><br>{e(r["id"])}<br>'
                    f'{e(str(r["architecture"]))} x{e(str(r["scale"]))}<br>{e(str(r["license"]))}</td>'
                    f'<td>{image}</td><td>{sizes}</td><td>{verdicts}</td>'
                    f'<td>{"PASS" if r["pass"] else "FAIL"}<br>{links}</td></tr>')
    passed = sum(r["pass"] for r in records)
    return ("<!doctype html>\n<meta charset=\"utf-8\">\n<title>srconvert zoo</title>\n<style>body{font:14px sans-serif}"
            "table{border-collapse:collapse}td{border:1px solid #ccc;padding:6px;vertical-align:top}"
            "tr.fail{background:#fee}img{image-rendering:pixelated;width:192px}</style>\n"
            f"<h1>srconvert zoo</h1>\n<p>{passed} of {len(records)} models passed parity in every runtime "
            "they were checked in. Before (left, enlarged) and after (right): the source's own output, "
            "from each release's check page.</p>\n"
            + "".join(f'<p>Model pack <a href="{html.escape(folder)}/">{html.escape(folder)}</a>: '
                      f"{len(ids)} models, one folder (Upscayl: Settings, custom models folder).</p>\n"
                      for folder, ids in (packs or {}).items())
            + "<table>\n<tr><th>model</th><th>before / after</th><th>sizes</th>"
            "<th>parity per runtime</th><th>verdict</th></tr>\n" + "\n".join(rows) + "\n</table>\n")


def _write_manifest(stage: Path) -> None:
    """A manifest of srconvert's listing the zoo's files, so `--force` may
    replace the zoo later and nothing else."""
    from converter.bundle.manifest import describe_files, tool

    files = describe_files(stage, [p for p in stage.rglob("*") if p.is_file()])
    document = {"tool": tool(), "zoo": True, "files": files}
    (stage / "manifest.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
