"""The forms a source is worked on in: a Keras model (`keras_form`,
`keras_model`) or an ONNX graph (`onnx_form`), and the topology checks made
before either loads (`checks`)."""
