"""Keep third-party chatter out of edgebert's output: import-time warnings, advice logged to the root logger.

Below the CLI on purpose: the CLI, the export worker and the bench worker all call it, and none of them should
reach into another for it. `--verbose` (the "edgebert" logger at DEBUG) leaves everything as the libraries set it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Iterator

NOISY_LOGGERS = ("torchao", "torch", "transformers", "nncf", "absl", "jax", "onnxruntime", "huggingface_hub",
                 "executorch", "mediapipe")


def verbose() -> bool:
    return logging.getLogger("edgebert").isEnabledFor(logging.DEBUG)


def quiet_libraries() -> None:
    """torchao/torch/TF print import-time warnings that say nothing to an edgebert user."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)  # ORT's quantiser logs advice to the root logger
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def quiet_after_import(*names: str) -> None:
    """Libraries that configure their loggers on import (torch does) need lowering again afterwards."""
    if not verbose():
        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice through the root logger; keep it out of edgebert's output."""
    root = logging.getLogger()
    level = root.level
    if not verbose():
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
