"""Quantizers for ONNX artifacts: each takes the float32 ModelProto and gives
the quantized one. (TFJS weights are quantized by tensorflowjs's writer.)"""
