"""One copy of each repeated vector in a multi-signature .tflite written by ai-edge-quantizer.

A signature per bucket is a subgraph per bucket. The converter stores each weight buffer once and every subgraph
points at it, but quantisation parameters live on each subgraph's tensors, not in buffers: every INT8 weight's
per-channel scales (float32) and zero points (int64) are written again for every signature (0.87 MB per signature for
DistilBERT, which made four buckets 1.056x one). FlatBuffers lets any number of tables point at one vector (what
flatc's shared strings do), so re-packing with a builder that writes each distinct vector once leaves every subgraph
reading the same numbers from one place.

ai-edge-quantizer keeps the weights after the flatbuffer, each at an absolute, 16-byte aligned file offset; the
re-packed flatbuffer is shorter, so the weight region moves up by a multiple of 16 and every offset moves with it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import flatbuffers  # export side only: edgebert.formats.tflite imports this module inside export()

ALIGN = 16  # ai-edge-quantizer aligns the weight region and each weight to 16 bytes (SIMD loads)


def share_vectors(path: Path) -> dict[str, int]:
    """Re-pack `path` in place with each distinct vector stored once; {"bytes_before", "bytes_after"}."""
    from ai_edge_litert import schema_py_generated as schema

    data = path.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    external = [b for b in model.buffers or [] if b.offset and b.offset > 1]  # offset 1 marks an empty buffer
    start = min((b.offset for b in external), default=len(data))
    if start % ALIGN:
        raise ValueError(f"weights start at byte {start}, not {ALIGN}-byte aligned: not an ai-edge-quantizer layout")
    head = _pack(model)
    moved = _round_up(len(head)) - start
    for b in external:
        b.offset += moved
    packed = _pack(model)
    if len(packed) != len(head):  # offsets are always-present uint64 fields: changing them cannot change the size
        raise ValueError("re-packed flatbuffer changed size when only offsets changed")
    out = packed + bytes(_round_up(len(packed)) - len(packed)) + data[start:]
    path.write_bytes(out)
    return {"bytes_before": len(data), "bytes_after": len(out)}


def _round_up(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _pack(model: Any) -> bytes:
    builder = SharingBuilder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class SharingBuilder(flatbuffers.Builder):
    """A builder whose numpy vectors (what the generated object API packs scales, zero points, shapes and operator
    tensor lists with) are written once per distinct content and referenced after that."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.written: dict[tuple[str, bytes], int] = {}

    def CreateNumpyVector(self, x: Any) -> int:  # noqa: N802 - flatbuffers' name
        key = (x.dtype.str, x.tobytes())
        if key not in self.written:
            self.written[key] = super().CreateNumpyVector(x)
        return self.written[key]
