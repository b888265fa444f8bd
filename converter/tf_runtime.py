"""Importing TensorFlow and friends, once and quietly.

TensorFlow, tensorflowjs and their plugins print pages of start-up chatter
(CUDA probes, deprecation notices, "Try ydf"). A conversion's output is its
own report, so those are silenced before the first import.
"""

from __future__ import annotations

import logging
import os
import warnings


def quiet() -> None:
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
