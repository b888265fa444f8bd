"""Recipes: a declarative description of one model release (recipes/*.toml).

Parsing needs only the standard library, so `srconvert recipes` is instant.
Paths in a recipe are relative to the recipe file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter import targets
from converter.core.errors import BadInput
from converter.core.input_size import InputSize
from converter.core.precisions import DEFAULT as DEFAULT_PRECISIONS

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
NPM_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Parameters weights cannot show; a recipe's value still applies when --weights
# replaces its file (the rest are read off the new file's shapes).
NOT_IN_WEIGHTS = ("beta", "x", "upscaling")


@dataclass(frozen=True)
class Recipe:
    path: Path
    name: str
    version: str
    license: str
    description: str
    weights: str
    """As written in the recipe: relative to the recipe file."""
    arch: str | None
    params: dict[str, Any]
    scale: int
    input_range: tuple[float, float]
    output_range: tuple[float, float]
    patch_size: int | None
    padding: int | None
    input_size: InputSize | None
    """`[model] input_size = "HxW"`: fix an ONNX source to this patch size (--input-size)."""
    formats: tuple[str, ...]
    precisions: tuple[str, ...]
    tfjs_models: tuple[str, ...] | None
    """None (a zoo's recipes): the plan picks per source, as convert does."""
    package_precision: str
    gates: tuple[str, ...]
    calibration_images: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)
    input_range_assumed: str | None = None
    """Why input_range is a guess, when no one set it (a zoo entry: OpenModelDB
    states no range); every report then says it is assumed."""
    browser: bool = False
    """`[parity] browser = true`: verify in Chromium too, as --browser does."""
    optional_precisions: tuple[str, ...] = ()
    """Precisions the release is published without where they fail their gates (a zoo's defaults, which
    nobody asked for by name; pipeline.withhold). A recipe file names its precisions, so it has none."""

    @property
    def weights_path(self) -> Path:
        return (self.path.parent / self.weights).resolve()

    def params_for(self, given_weights: bool) -> dict[str, Any]:
        """The family's hyperparameters to build with: the recipe's, or for
        weights given in place of the recipe's (--weights), only those the
        weights cannot show (NOT_IN_WEIGHTS)."""
        return {k: v for k, v in self.params.items() if not given_weights or k in NOT_IN_WEIGHTS}


def _range(text: str, key: str, path: Path) -> tuple[float, float]:
    if text not in ("0:1", "0:255"):
        raise BadInput(f"[model] {key} must be \"0:1\" or \"0:255\", not {text!r}", path=path)
    low, high = text.split(":")
    return float(low), float(high)


def _input_size(text: str | None, path: Path) -> InputSize | None:
    try:
        return None if text is None else InputSize.parse(text)
    except ValueError as exc:
        raise BadInput(f"[model] input_size: {exc}", path=path) from None


def load(path: Path) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput("no such recipe", path=path, hint="`srconvert recipes` lists them") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"not valid TOML ({exc})", path=path) from None
    try:
        release, source, model = data["release"], data["source"], data.get("model", {})
        outputs, parity = data.get("outputs", {}), data.get("parity", {})
        name = str(release["name"])
        if not NPM_NAME.match(name):
            raise BadInput(f"release name {name!r} is not a valid npm package name", path=path,
                           hint="lower case letters, digits, '-', '.', '_'")
        precisions = tuple(outputs.get("precisions", DEFAULT_PRECISIONS))
        calibration = parity.get("calibration_images")
        return Recipe(
            path=path.resolve(),
            name=name,
            version=str(release["version"]),
            license=str(release.get("license", "UNLICENSED")),
            description=str(release.get("description", "")),
            weights=str(source["weights"]),
            arch=source.get("arch"),
            params=dict(source.get("params", {})),
            scale=int(model.get("scale", 0)) or 0,
            input_range=_range(model.get("input_range", "0:1"), "input_range", path),
            output_range=_range(model.get("output_range", "0:1"), "output_range", path),
            patch_size=model.get("patch_size"),
            padding=model.get("padding"),
            input_size=_input_size(model.get("input_size"), path),
            formats=tuple(outputs.get("formats", targets.DEFAULT_FORMATS)),
            precisions=precisions,
            tfjs_models=tuple(outputs.get("tfjs_model", ["layers"])),
            package_precision=str(outputs.get("package_precision", precisions[-1])),
            gates=tuple(f"{precision}:{rule}" for precision, rule in parity.get("gates", {}).items()),
            calibration_images=(path.parent / calibration).resolve() if calibration else None,
            metadata=dict(data.get("metadata", {})),
            browser=bool(parity.get("browser", False)),
        )
    except KeyError as exc:
        raise BadInput(f"missing key {exc.args[0]!r}", path=path, hint="see recipes/isr-gans-x4.toml for the layout") from None


def discover(folder: Path = RECIPES_DIR) -> list[Recipe]:
    return [load(p) for p in sorted(Path(folder).glob("*.toml"))]
