"""transformers.js's `image-to-image` pipeline, as a runtime.

FILES is the runtime's own convention (@huggingface/transformers 4.3.1,
`dtype` option of `pipeline`): which file under onnx/ it opens for each
dtype. The target writes by it (emitters/hf_folder.py) and the runner reads
the dtype back from the artifact's file."""

FILES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "uint8": "model_uint8.onnx", "int8": "model_int8.onnx"}
DTYPE_OF_FILE = {file: dtype for dtype, file in FILES.items()}
