"""What a custom layer is to srconvert."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent


def scale_config(
    match: re.Match[str], config: dict[str, Any], keys: tuple[str, ...], default: int
) -> dict[str, Any]:
    """Config with `scale`, from the first of `keys` present, else the
    spelling's `scale` group (`PixelShuffle4x`), else `default`."""
    found = [config.pop(key) for key in keys if key in config]
    scale = found[0] if found else (match.group("scale") or default)
    return {**config, "scale": int(scale)}


def plain_class_name(class_name: str) -> str:
    """`Custom>PixelShuffle` -> `PixelShuffle`: Keras prefixes a registered
    package, and the same layer shows up with and without it."""
    return class_name.rsplit(">", 1)[-1]


@dataclass(frozen=True)
class CustomLayer:
    name: str
    """The canonical class name emitted in every bundle."""
    spellings: re.Pattern[str]
    """Every class name (prefix removed) this layer appears under in the wild."""
    canonical_config: Callable[[re.Match[str], dict[str, Any]], dict[str, Any]]
    """The config in canonical form, from the matched spelling and the config found."""
    define_keras: Callable[[Any], type]
    """Builds the Python class for a Keras package (tf_keras or Keras 3)."""
    js_file: str
    """File next to this one holding `function define<Name>(tf)`."""

    def matches(self, class_name: str) -> bool:
        return self.spellings.fullmatch(plain_class_name(class_name)) is not None

    def normalise(self, class_name: str, config: dict[str, Any]) -> dict[str, Any]:
        match = self.spellings.fullmatch(plain_class_name(class_name))
        if match is None:
            raise ValueError(f"{class_name} is not a spelling of {self.name}")
        return self.canonical_config(match, dict(config))

    @property
    def js_source(self) -> str:
        return (HERE / self.js_file).read_text(encoding="utf-8")

    @property
    def js_define_function(self) -> str:
        return f"define{self.name}"

    def keras_class(self, keras: Any) -> type:
        """The canonical Python class for a Keras package, defined once per package."""
        key = (self.name, keras.__name__)
        if key not in _DEFINED:
            _DEFINED[key] = self.define_keras(keras)
        return _DEFINED[key]

    def keras_loader(self, keras: Any, class_name: str) -> type:
        """A class Keras can deserialise `class_name` with, as found in a file.

        Some spellings carry meaning in the name alone (`PixelShuffle4x` has no
        `scale` in its config), so loading goes through `canonical_config`; the
        layer built is always the canonical class.
        """
        base = self.keras_class(keras)
        match = self.spellings.fullmatch(plain_class_name(class_name))
        if match is None:
            raise ValueError(f"{class_name} is not a spelling of {self.name}")
        canonical = self.canonical_config

        class Spelling(base):  # type: ignore[misc, valid-type]
            @classmethod
            def from_config(cls, config):
                return base(**canonical(match, dict(config)))

        Spelling.__name__ = Spelling.__qualname__ = plain_class_name(class_name)
        return Spelling


_DEFINED: dict[tuple[str, str], type] = {}
