"""TensorFlow SavedModel folders written by tf_keras (`model.save(dir)`).

tf_keras stores the Keras config in `keras_metadata.pb` beside the graph; that
is what makes a SavedModel convertible to a TFJS layers model.
"""

from __future__ import annotations

from typing import Any

from converter.core import tf_runtime
from converter.core.errors import BadInput
from converter.sources import declared, native, safe_json
from converter.sources.detect import SAVEDMODEL, Probe

NAME = "savedmodel"
"""The reader's name in sources.READERS."""
FORMATS = {SAVEDMODEL: "TensorFlow SavedModel folder"}


def detect(probe: Probe) -> str | None:
    return SAVEDMODEL if probe.is_dir and (probe.path / "saved_model.pb").is_file() else None


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    size = declared.folder_bytes(path)
    return declared.Content(size, size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    path = probe.given
    metadata_file = path / "keras_metadata.pb"
    if not metadata_file.is_file():
        raise BadInput(
            "a SavedModel without keras_metadata.pb: it holds a graph but no Keras layers",
            path=path,
            hint="save it with tf_keras `model.save(dir)`, or convert the Keras checkpoint it came from",
        )
    tf_runtime.tf_keras()
    from tf_keras.protobuf import saved_metadata_pb2

    saved = saved_metadata_pb2.SavedMetadata()
    try:
        saved.ParseFromString(metadata_file.read_bytes())
        root = next(node for node in saved.nodes if node.node_path == "root")
    except (StopIteration, ValueError, Exception) as exc:  # protobuf's DecodeError has no public base
        raise BadInput(f"unreadable keras_metadata.pb ({exc})", path=metadata_file) from None
    metadata = safe_json.loads(root.metadata, metadata_file, "the root's Keras metadata")
    if not isinstance(metadata, dict):
        raise BadInput("the root's Keras metadata is not a JSON object", path=metadata_file)
    version = metadata.get("keras_version") or None
    topology = {"class_name": metadata.get("class_name"), "config": metadata.get("config", {})}
    return {"keras_version": version, "topology": topology}


def load(info, options):
    keras = tf_runtime.tf_keras()
    objects = native.custom_objects(keras, info.topology, options.user_layers)
    model = native.load_natively(
        info.path,
        lambda: keras.models.load_model(
            str(info.path), custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
        ),
    )
    return native.loaded(model)
