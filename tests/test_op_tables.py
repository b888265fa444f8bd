"""README's "Supported ONNX ops" tables are the handler tables: every op a
translation handles is listed, and every op listed is handled."""

from __future__ import annotations

import re

from conftest import ROOT

from converter.emitters import onnx_to_tf
from converter.sources.onnx_import import translate


def listed_ops(part: str) -> set[str]:
    """The op names in the first column of a README table (parenthesised
    remarks and prose such as "and anything computed..." left out)."""
    found: set[str] = set()
    for line in part.splitlines():
        if not line.startswith("| ") or line.startswith(("| ONNX op", "|---")):
            continue
        cell = re.sub(r"\([^)]*\)", "", line.split("|")[1]).split(" and anything")[0]
        found |= set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", cell))
    return found


def tables() -> tuple[set[str], set[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Supported ONNX ops"):]
    section = section[: section.index("\n## ", 5)]
    keras, graph = section.split("Graph translation (graph models only)")
    return listed_ops(keras), listed_ops(graph)


def test_the_table_reader_finds_ops_and_skips_remarks():
    row = "| Erf (GELU), Gelu, Sigmoid·x (SiLU) and anything computed only from shapes | x | y |"
    assert listed_ops(row) == {"Erf", "Gelu", "Sigmoid"}


def test_the_keras_rebuild_table_is_its_handler_table():
    keras, _ = tables()
    handled = set(translate.OP_HANDLERS.names()) | set(translate.MOVEMENT_OPS) | set(translate.SHAPE_OPS)
    assert keras == handled == set(translate.SUPPORTED_OPS)


def test_the_graph_translation_table_is_its_handler_table():
    keras, graph = tables()
    assert graph <= set(onnx_to_tf.HANDLERS.names()), "listed but not handled"
    # "beyond the ops above": the graph translation's ops are those of both tables.
    assert set(onnx_to_tf.HANDLERS.names()) - graph - keras == set(), "handled but not listed"


def test_one_op_registry_says_what_each_translation_takes_and_refuses_drift():
    import pytest

    from converter.graphs import onnx_ops

    assert onnx_ops.handled(tf=True) == frozenset(onnx_to_tf.HANDLERS.names())
    assert onnx_ops.handled(onnx_ops.LAYER) == frozenset(translate.OP_HANDLERS.names())
    assert onnx_ops.handled("*") == translate.SUPPORTED_OPS
    with pytest.raises(ImportError, match=r"handled, not declared \['Bogus'\]"):
        onnx_ops.check([*onnx_to_tf.HANDLERS.names(), "Bogus"], tf=True)
    with pytest.raises(ImportError, match=r"declared, not handled \['Conv'\]"):
        onnx_ops.check([name for name in translate.OP_HANDLERS.names() if name != "Conv"], keras=onnx_ops.LAYER)
