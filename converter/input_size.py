"""The fixed patch size a model is converted for (`--input-size HxW`, a
recipe's `input_size`). Standard library only: recipes parse it, and
`srconvert recipes` stays instant."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputSize:
    height: int
    width: int

    @classmethod
    def parse(cls, text: str) -> "InputSize":
        height, sep, width = str(text).lower().partition("x")
        if not sep or not height.isdigit() or not width.isdigit() or int(height) < 1 or int(width) < 1:
            raise ValueError(f"{text!r} is not HEIGHTxWIDTH in pixels (e.g. 64x64)")
        return cls(int(height), int(width))

    @classmethod
    def of_shape(cls, input_shape) -> "InputSize | None":
        """The size an NHWC input shape fixes, or None where H or W is free."""
        height, width = input_shape[1:3]
        return cls(height, width) if height and width else None

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"
