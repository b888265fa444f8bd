"""One way to dispatch on a name: a table that a decorator fills.

The ONNX exporter (Keras layer class -> ONNX nodes) and the ONNX importer
(ONNX op -> Keras layer) both map names to handlers; each keeps its table,
and what a table holds is what that mapper supports.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from converter.core.registry import Registry

F = TypeVar("F", bound=Callable)


def registrar(table: Registry) -> Callable[..., Callable[[F], F]]:
    """`handles = registrar(TABLE)`, then `@handles("Conv", "Gemm")` puts the
    decorated function in TABLE (a core.registry.Registry) under each name;
    a name handled twice is an error, not the later handler silently winning."""

    def handles(*names: str) -> Callable[[F], F]:
        def register(function: F) -> F:
            for name in names:
                table.put(name, function)
            return function

        return register

    return handles
