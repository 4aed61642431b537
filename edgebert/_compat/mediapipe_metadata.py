"""The one native function mediapipe 1.2.x's metadata writers import but its wheels do not ship.

`mediapipe.tasks.python.metadata.metadata` imports `mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`
for `GetMinimumMetadataParserVersion(buf)`; the 1.2.2 wheels lack that module, so the writers fail on import.
This is a port of mediapipe/tasks/cc/metadata/metadata_version.cc: the version is the newest schema member the
metadata uses (BertTokenizer options and input process units are 1.1.0, vocabulary files 1.0.1, ...).
`install()` registers it under the expected module name before the writers are imported.
"""
from __future__ import annotations

import sys
import types
from typing import Any

MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"


def _versions(fb: Any) -> dict[str, tuple[int, int, int]]:
    return {
        "vocab_file": (1, 0, 1), "input_process_units": (1, 1, 0), "output_process_units": (1, 1, 0),
        "bert": (1, 1, 0), "sentencepiece": (1, 1, 0), "input_groups": (1, 2, 0), "output_groups": (1, 2, 0),
        "regex": (1, 2, 1), "audio": (1, 3, 0), "scann": (1, 4, 0), "file_version": (1, 4, 1),
    }


def minimum_parser_version(metadata_buf: bytes) -> str:
    """GetMinimumMetadataParserVersion, from the flatbuffer (same walk as the C++)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    ver = _versions(fb)
    found = [(1, 0, 0)]
    meta = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(bytearray(metadata_buf), 0))

    def files(items: Any) -> None:
        for f in items or []:
            if f.type == fb.AssociatedFileType.VOCABULARY:
                found.append(ver["vocab_file"])
            if f.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
                found.append(ver["scann"])
            if getattr(f, "version", None) is not None:
                found.append(ver["file_version"])

    def units(items: Any) -> None:
        kinds = {fb.ProcessUnitOptions.BertTokenizerOptions: "bert",
                 fb.ProcessUnitOptions.SentencePieceTokenizerOptions: "sentencepiece",
                 fb.ProcessUnitOptions.RegexTokenizerOptions: "regex"}
        for u in items or []:
            if u.optionsType in kinds:
                found.append(ver[kinds[u.optionsType]])

    def tensors(items: Any) -> None:
        for t in items or []:
            files(t.associatedFiles)
            units(t.processUnits)
            if t.content is not None and t.content.contentPropertiesType == fb.ContentProperties.AudioProperties:
                found.append(ver["audio"])

    for sub in meta.subgraphMetadata or []:
        tensors(sub.inputTensorMetadata)
        tensors(sub.outputTensorMetadata)
        files(sub.associatedFiles)
        if sub.inputProcessUnits is not None:
            found.append(ver["input_process_units"])
            units(sub.inputProcessUnits)
        if sub.outputProcessUnits is not None:
            found.append(ver["output_process_units"])
            units(sub.outputProcessUnits)
        if sub.inputTensorGroups is not None:
            found.append(ver["input_groups"])
        if sub.outputTensorGroups is not None:
            found.append(ver["output_groups"])
    files(meta.associatedFiles)
    return ".".join(str(n) for n in max(found))


def install() -> None:
    """Register the module, unless the installed mediapipe ships the native one."""
    if MODULE in sys.modules:
        return
    try:
        __import__(MODULE)
        return
    except ImportError:
        pass
    # The wheels lack the whole mediapipe.tasks.cc package: register the chain so `from ... import` resolves.
    parts = MODULE.split(".")
    for i in range(3, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                package = types.ModuleType(name)
                package.__path__ = []  # type: ignore[attr-defined]
                sys.modules[name] = package
    module = types.ModuleType(MODULE)
    module.GetMinimumMetadataParserVersion = minimum_parser_version  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
