#!/usr/bin/env python3
"""A real labelled text-classification data set built offline: Python standard-library docstrings, labelled by
the topic of the module they document.

Real prose written by CPython's authors, real labels (the module a text documents decides its topic), nothing
downloaded, and deterministic: the same Python version gives byte-identical files (modules in a fixed order,
members sorted, splits by a hash of the text). The topic's name never appears as a feature: only the docstring.

    python scripts/build_docs_dataset.py OUT_DIR      -> OUT_DIR/{train,dev,test}.csv (text,label) + meta.json
    python scripts/build_docs_dataset.py --sample-texts edgebert/assets/sample_texts.txt   (bench's default texts)

A text is the first paragraph of a module, class, function or method docstring, whitespace collapsed, 6-120
words, with signature-only or code-only lines dropped; a text found under two topics is dropped from both.
Split by sha1(text): 10% dev, 20% test, 70% train.
"""
from __future__ import annotations

import csv
import hashlib
import importlib
import inspect
import io
import json
import platform
import re
import sys
import warnings
from pathlib import Path

TOPICS: dict[str, tuple[str, ...]] = {
    "text": ("re", "string", "textwrap", "difflib", "unicodedata", "codecs", "html", "html.parser", "gettext",
             "locale", "shlex"),
    "numbers": ("math", "cmath", "decimal", "fractions", "random", "statistics", "numbers", "operator"),
    "time": ("datetime", "calendar", "time", "zoneinfo", "sched"),
    "files": ("os", "os.path", "pathlib", "shutil", "glob", "fnmatch", "tempfile", "filecmp", "stat", "io",
              "fileinput", "mmap"),
    "network": ("socket", "ssl", "http.client", "http.server", "http.cookiejar", "urllib.request", "urllib.parse",
                "email.message", "email.utils", "smtplib", "ftplib", "imaplib", "poplib", "ipaddress", "selectors",
                "socketserver", "xmlrpc.client"),
    "concurrency": ("threading", "multiprocessing", "multiprocessing.pool", "concurrent.futures", "asyncio.tasks",
                    "asyncio.events", "asyncio.locks", "asyncio.queues", "asyncio.streams", "subprocess", "queue"),
    "data": ("json", "csv", "pickle", "sqlite3", "zipfile", "tarfile", "gzip", "bz2", "lzma", "zlib",
             "xml.etree.ElementTree", "configparser", "plistlib", "base64", "binascii", "struct", "shelve",
             "dbm", "marshal"),
    "debugging": ("unittest", "unittest.mock", "doctest", "pdb", "bdb", "trace", "traceback", "logging",
                  "logging.handlers", "warnings", "inspect", "dis", "timeit", "cProfile", "profile", "pstats",
                  "faulthandler", "tracemalloc"),
    "containers": ("collections", "collections.abc", "enum", "dataclasses", "heapq", "bisect", "array", "copy",
                   "functools", "itertools", "weakref", "types", "contextlib"),
}
MIN_WORDS, MAX_WORDS = 6, 120


def first_paragraph(doc: str | None) -> str | None:
    """The docstring's first paragraph as one line, or None when it is not prose."""
    if not doc:
        return None
    para = doc.strip().split("\n\n", 1)[0]
    lines = [ln.strip() for ln in para.splitlines()]
    # drop signature lines such as "sub(pattern, repl, string, count=0) -> str" and doctest prompts
    lines = [ln for ln in lines if ln and not ln.startswith((">>>", "...")) and not re.fullmatch(
        r"[\w.]+\(.*\)\s*(->.*)?", ln)]
    text = re.sub(r"\s+", " ", " ".join(lines)).strip()
    words = text.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or sum(ch.isalpha() for ch in text) < 0.6 * len(text):
        return None
    return text


def docstrings(module_name: str) -> list[str]:
    """First paragraphs of the module's own docstrings: the module, its classes, functions and methods."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a module this Python lacks: the data set records what it had
            return []
    top = module_name.split(".")[0]
    found = [first_paragraph(inspect.getdoc(module))]
    for _, obj in sorted(vars(module).items()):
        owner = getattr(obj, "__module__", "") or ""
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)):
            continue
        if owner == "builtins" or owner.split(".")[0].lstrip("_") != top.lstrip("_"):
            continue  # documented elsewhere: builtins, re-exports (C modules: _datetime counts as datetime)
        found.append(first_paragraph(inspect.getdoc(obj)))
        if inspect.isclass(obj):
            for _, member in sorted(vars(obj).items()):
                if inspect.isfunction(member) or inspect.ismethoddescriptor(member):
                    found.append(first_paragraph(getattr(member, "__doc__", None) and inspect.getdoc(member)))
    return [t for t in found if t]


def build() -> dict[str, list[tuple[str, str]]]:
    """{split: [(text, label), ...]}, deterministic for a given Python."""
    seen: dict[str, set[str]] = {}
    for label, modules in TOPICS.items():
        for module in modules:
            for text in docstrings(module):
                seen.setdefault(text, set()).add(label)
    rows = sorted((text, next(iter(labels))) for text, labels in seen.items() if len(labels) == 1)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "dev": [], "test": []}
    for text, label in rows:
        bucket = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 10
        splits["dev" if bucket == 0 else "test" if bucket in (1, 2) else "train"].append((text, label))
    for split in splits.values():  # a fixed, label-mixed order
        split.sort(key=lambda r: hashlib.sha1(r[0].encode("utf-8")).hexdigest())
    return splits


def write(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    meta: dict = {"source": "CPython standard-library docstrings (first paragraphs), labelled by module topic",
                  "python": platform.python_version(), "topics": {k: list(v) for k, v in TOPICS.items()},
                  "splits": {}}
    for name, rows in build().items():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
        data = buf.getvalue().encode("utf-8")
        (out / f"{name}.csv").write_bytes(data)
        counts: dict[str, int] = {}
        for _, label in rows:
            counts[label] = counts.get(label, 0) + 1
        meta["splits"][name] = {"rows": len(rows), "per_label": dict(sorted(counts.items())),
                                "sha256": hashlib.sha256(data).hexdigest()}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def sample_texts(short: int = 90, long: int = 30) -> list[str]:
    """edgebert's default text sample for text-to-answer benchmarks (edgebert/assets/sample_texts.txt): held-out
    docstrings (short, 6-120 words) and paragraphs of Python's own documentation (pydoc_data, 60-260 words, often
    past 128 tokens), each set in a fixed hash order."""
    from pydoc_data.topics import topics

    def order(texts: list[str]) -> list[str]:
        return sorted(set(texts), key=lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())

    paragraphs = []
    for key in sorted(topics):
        for para in topics[key].split("\n\n"):
            para = re.sub(r"\s+", " ", para).strip()
            if 60 <= len(para.split()) <= 260 and "::" not in para and sum(c.isalpha() for c in para) > 0.7 * len(para):
                paragraphs.append(para)
    return order([t for t, _ in build()["test"]])[:short] + order(paragraphs)[:long]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sample-texts":
        Path(sys.argv[2]).write_text("\n".join(sample_texts()) + "\n", encoding="utf-8")
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit("usage: build_docs_dataset.py OUT_DIR | --sample-texts FILE")
    summary = write(Path(sys.argv[1]))
    print(json.dumps({k: v["rows"] for k, v in summary["splits"].items()}), summary["python"])
