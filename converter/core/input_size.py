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


@dataclass(frozen=True)
class Sizes:
    """The input sizes an artifact takes: one fixed HxW, or any size whose
    height and width are multiples of `multiple` (1: any size at all). The
    manifest records it per artifact, and parity runs each artifact only at
    sizes it takes."""

    fixed: InputSize | None = None
    multiple: int = 1

    @classmethod
    def of_shape(cls, input_shape, multiple: int = 1) -> "Sizes":
        """What a model with this NHWC input shape and size multiple takes."""
        fixed = InputSize.of_shape(input_shape)
        return cls(fixed, 1) if fixed else cls(None, max(1, int(multiple)))

    @classmethod
    def from_dict(cls, data: dict | None) -> "Sizes | None":
        if not data:
            return None
        if data.get("fixed"):
            return cls(InputSize.parse(data["fixed"]))
        return cls(None, int(data.get("multiple_of", 1)))

    def takes(self, height: int, width: int) -> bool:
        if self.fixed is not None:
            return (height, width) == (self.fixed.height, self.fixed.width)
        return height % self.multiple == 0 and width % self.multiple == 0

    @property
    def free(self) -> bool:
        return self.fixed is None

    def as_dict(self) -> dict:
        if self.fixed is not None:
            return {"kind": "fixed", "fixed": str(self.fixed)}
        return {"kind": "free" if self.multiple == 1 else "multiple", "multiple_of": self.multiple}

    def __str__(self) -> str:
        if self.fixed is not None:
            return f"{self.fixed} only"
        return "any size" if self.multiple == 1 else f"any multiple of {self.multiple}"
