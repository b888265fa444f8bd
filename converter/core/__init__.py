"""The bottom layer: what every stage uses and that knows no model format.

Errors and exit codes, progress lines, hashing, the run's memory budget and
deadlines, the host's CPU, input sizes, quiet TensorFlow imports, the
name -> handler registrar and loading a user's own layer classes. Nothing
here imports another part of srconvert.
"""
