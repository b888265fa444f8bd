"""What srconvert knows of the graph formats themselves, below every stage
that reads or writes them: the Keras topology JSON (`topology`), ONNX graph
helpers (`onnx_graph`) and the work a graph does (`compute`)."""
