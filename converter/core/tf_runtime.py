"""Importing TensorFlow and friends, once and quietly.

TensorFlow, tensorflowjs and their plugins print pages of start-up chatter
(CUDA probes, deprecation notices, "Try ydf"). A conversion's output is its
own report, so those are silenced before the first import.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

_stderr_redirected = False
_debug = False


def quiet(debug: bool | None = None) -> None:
    """Silence library chatter; with `debug`, leave every log on. The CLI
    decides once per process (`--debug`); later calls (every import below
    makes one) keep that decision."""
    global _debug
    if debug is not None:
        _debug = _debug or debug
    if _debug:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # tensorflow_decision_forests (imported by tensorflowjs) prints an advert,
    # and imports IPython to do so when stdout is not a terminal.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization warns on the root logger
    _silence_native_stderr()


def _silence_native_stderr() -> None:
    """TensorFlow's C++ code logs straight to file descriptor 2, past every
    Python setting. Point fd 2 at /dev/null and keep Python's sys.stderr on a
    duplicate of the real one, so srconvert's own messages still show."""
    global _stderr_redirected
    if _stderr_redirected:
        return
    sys.stderr.flush()
    real = os.dup(2)
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="replace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    _stderr_redirected = True


def tensorflow():
    quiet()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return tf


def tf_keras():
    tensorflow()
    import tf_keras

    return tf_keras


def keras3():
    tensorflow()
    import keras

    return keras


def tensorflowjs():
    tensorflow()
    import tensorflowjs

    return tensorflowjs


def preload(with_tensorflowjs: bool = True) -> None:
    """Import TensorFlow (and tf_keras, and tensorflowjs when
    `with_tensorflowjs`) on a background thread, so that their seconds of
    start-up overlap the work a run does before it first needs them
    (reading a source, writing and verifying the bundles TensorFlow plays no
    part in). The first real use waits on Python's import lock; an import
    that fails here is raised again, with its message, by that use."""
    import threading

    quiet()  # on this thread: it redirects file descriptor 2 and sys.stderr
    threading.Thread(target=_import_quietly, args=(with_tensorflowjs,), name="srconvert-tf-import",
                     daemon=True).start()


def _import_quietly(with_tensorflowjs: bool) -> None:
    try:
        tf_keras()
        if with_tensorflowjs:
            tensorflowjs()
    except Exception:  # noqa: BLE001 - the first real use raises it where it can be reported
        pass
