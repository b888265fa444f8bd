"""Quantizers for ONNX artifacts: each module takes the float32 ModelProto and
gives the quantized one, `quantize(proto, calibration=None)`, and says how in
`SCHEME` (recorded in the manifest). `calibration` is a callable returning
input batches, for the quantizers that measure activations.
(TFJS weights are quantized by tensorflowjs's writer.)"""
