"""Runtimes that are not formats: ONNX Runtime sessions (shared by every ONNX-family format) and eager PyTorch (the
baseline bench measures). Below formats/: a format's load() builds one of these, never the other way round."""
