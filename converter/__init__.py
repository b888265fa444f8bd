"""srconvert: super-resolution checkpoints to verified TensorFlow.js and ONNX bundles.

Nothing heavy is imported here: `srconvert --help` must stay instant.
"""

__version__ = "0.1.0"
