"""Hugging Face's BertNormalizer, in the graph, in front of onnxruntime-extensions' BertTokenizer op.

The op alone tokenizes other ids than the model's own tokenizer on 121k of 203k code points (onnxruntime-extensions
0.15.2, base/string_utils.cc, operators/tokenizer/basic_tokenizer.cc, bert_tokenizer.cc): ToLower covers ASCII,
Latin-1, part of Cyrillic and a wrong Greek range; StripAccent only U+00C0-00FF and no NFD (Hangul, Arabic hamza,
Greek tonos, Vietnamese); BOM, DEL and U+FFFD are kept; text after a NUL is lost (C strings); a word with an unknown
character keeps its matched pieces plus [UNK] (Hugging Face: one [UNK]); its punctuation and CJK sets differ.
No attribute of the op fixes any of these. So the model's own normaliser is evaluated on every code point at export
and carried as tables (StringMapping, LabelEncoder), and the op runs with lowercasing and accent stripping off:

  NUL removed (StringSplit + StringJoin) -> whitespace set to " " -> private-use removed -> per character: the
  normaliser's mapping (lowercase, NFD-and-strip, punctuation the op does not split spaced out, removed characters
  marked) -> a word with a character outside the vocabulary becomes the sentinel, which the op maps to one [UNK]
  -> BertTokenizer(do_lower_case=0, strip_accents=0).

Regex patterns stay tiny on purpose: the extensions' regex ops compile their pattern on every run (large character
classes cost 0.5-1.7 ms a call); sets live in StringMapping / LabelEncoder tables instead. +1 MB, ~0.3 ms a text.
"""
from __future__ import annotations

import functools
import json
from typing import Any

SENTINEL = "\ue000"  # a lone private-use character: the op emits exactly one [UNK] for it
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
              (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))  # the op's IsCJK (Hugging Face's ranges)
OP_SPACE = {9, 10, 13, 32, 160, 8239, 8287, 12288, *range(8192, 8203)}  # what the op splits words on
OP_PUNCT = {161, 167, 171, 187, 191, 894, 903, 12336, 12349, *(cp for a, b in (
    (33, 47), (58, 64), (91, 96), (123, 126), (182, 183), (8208, 8231), (8240, 8259), (8261, 8273), (8275, 8286),
    (12289, 12291), (12296, 12305), (12308, 12319)) for cp in range(a, b + 1))}
PRIVATE_USE = "\\x{E000}-\\x{F8FF}\\x{F0000}-\\x{FFFFD}\\x{100000}-\\x{10FFFD}"


def _is_cjk(cp: int) -> bool:
    return any(a <= cp <= b for a, b in CJK_RANGES)


def _ranges(cps: list[int]) -> str:
    """An RE2 character class body for code points: escaped \\x{..} ranges."""
    out, start, prev = [], None, None
    for cp in sorted(cps) + [None]:
        if start is not None and (cp is None or cp != prev + 1):
            out.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
            start = None
        if cp is not None and start is None:
            start = cp
        prev = cp
    return "".join(out)


def _splitting(pre: Any, chars: list[str]) -> set[str]:
    """Which characters the tokenizer's pre-tokenizer splits a word on: one pass over 'a' + 'a'.join(chars) + 'a'
    (a character that splits comes back as a piece of its own)."""
    pieces = pre.pre_tokenize_str("a" + "a".join(chars) + "a")
    return {p for p, _ in pieces if len(p) == 1 and p != "a"}


@functools.lru_cache(maxsize=4)
def build_tables(tokenizer_json: str) -> dict[str, Any]:
    """The model's own normaliser and pre-tokenizer, evaluated on every code point (once per tokenizer)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    norm, pre = tok.normalizer, tok.pre_tokenizer
    singles = {t for t in json.loads(tokenizer_json)["model"]["vocab"] if len(t) == 1}
    whitespace, removed, mapping, hf_cjk, mapped = [], [], {}, set(), {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        f = norm.normalize_str(c)
        if f == " " and c != " ":
            whitespace.append(cp)
        elif f == "":
            removed.append(cp)
        elif _is_cjk(cp) and f == f" {c} ":
            hf_cjk.add(cp)
        elif f != c:
            mapping[c] = f
        mapped[cp] = mapping.get(c, c)
    candidates = [g for cp, g in mapped.items() if len(g) == 1 and g != "a" and not _is_cjk(ord(g))
                  and ord(g) not in OP_PUNCT and ord(g) not in OP_SPACE and cp not in hf_cjk]
    split = _splitting(pre, sorted(set(candidates)))
    hf_punct = [cp for cp, g in mapped.items() if g in split and cp not in hf_cjk and len(g) == 1]
    for cp in hf_punct:  # Hugging Face splits these, the op does not: space them out
        mapping[chr(cp)] = f" {mapping.get(chr(cp), chr(cp))} "
    odd = [cp for a, b in CJK_RANGES for cp in range(a, b + 1) if cp not in hf_cjk and chr(cp) in singles]
    if odd:
        raise ValueError(f"in-vocabulary CJK characters the op splits and the tokenizer does not: {odd[:5]}")
    breakers = sorted(OP_SPACE | OP_PUNCT | hf_cjk | set(hf_punct))
    return {"whitespace": whitespace, "removed": removed, "mapping": mapping, "singles": singles,
            "breakers": breakers}


def _mapping_attribute(tables: dict[str, Any]) -> str:
    mapping = dict(tables["mapping"])
    for cp in tables["removed"]:
        if not (0xE000 <= cp <= 0xF8FF or cp >= 0xF0000) and cp != 0:
            mapping[chr(cp)] = "\x01"  # removed after the join: StringMapping cannot map to an empty string
    mapping.pop("\t", None)  # whitespace is replaced before; tab and newline are the map's own separators
    mapping.pop("\n", None)
    return "\n".join(f"{k}\t{v}" for k, v in sorted(mapping.items()))


def _word_classes(tables: dict[str, Any]) -> tuple[list[str], list[int]]:
    """LabelEncoder keys/values: 0 a character in the vocabulary, 1 splits words, 2 (default) out of vocabulary."""
    breakers = {chr(cp) for cp in tables["breakers"]} | {" "}
    keys = sorted(set(tables["singles"]) | breakers)
    return keys, [1 if k in breakers else 0 for k in keys]


def _strings(values: dict[str, str]) -> list[Any]:
    import onnx
    from onnx import helper

    return [helper.make_tensor(name, onnx.TensorProto.STRING, [], [v.encode()]) for name, v in values.items()]


def _ints(values: dict[str, list[int] | int]) -> list[Any]:
    import onnx
    from onnx import helper

    return [helper.make_tensor(name, onnx.TensorProto.INT64, [len(v)] if isinstance(v, list) else [],
                               v if isinstance(v, list) else [v]) for name, v in values.items()]


def _clean_nodes(tables: dict[str, Any], text_in: str, text_out: str) -> tuple[list, list]:
    """NUL, whitespace and private use out, then the per-character mapping (split, map, densify, join)."""
    import onnx
    from onnx import helper

    contrib, node = "ai.onnx.contrib", helper.make_node
    inits = _strings({"nb_empty": "", "nb_ws_p": f"[{_ranges(tables['whitespace'])}]", "nb_sp": " ",
                      "nb_pua_p": f"[{PRIVATE_USE}]", "nb_char_p": "(?s)(.)", "nb_mark_p": "\x01"})
    nodes = [
        node("StringSplit", [text_in], ["nb_parts", "nb_nparts"], delimiter="\x00"),  # ai.onnx 20: keeps NULs out
        node("StringJoin", ["nb_parts", "nb_empty", "nb_axis1"], ["nb_t0"], domain=contrib),
        node("StringRegexReplace", ["nb_t0", "nb_ws_p", "nb_sp"], ["nb_t1"], domain=contrib),
        node("StringRegexReplace", ["nb_t1", "nb_pua_p", "nb_empty"], ["nb_t1b"], domain=contrib),
        node("StringRegexSplitWithOffsets", ["nb_t1b", "nb_char_p", "nb_char_p"], ["nb_c1", "nb_b1", "nb_e1", "nb_r1"],
             domain=contrib),
        node("StringMapping", ["nb_c1"], ["nb_m1"], domain=contrib, map=_mapping_attribute(tables)),
        # StringRaggedTensorToDense reads the row count from a string tensor with one element per row split
        node("Cast", ["nb_r1"], ["nb_r1s"], to=onnx.TensorProto.STRING),
        node("StringRaggedTensorToDense", ["nb_r1", "nb_m1", "nb_r1", "nb_r1s"], ["nb_d1"], domain=contrib),
        node("StringJoin", ["nb_d1", "nb_empty", "nb_axis1"], ["nb_t2"], domain=contrib),
        node("StringRegexReplace", ["nb_t2", "nb_mark_p", "nb_empty"], [text_out], domain=contrib),
    ]
    return nodes, inits


def _oov_nodes(tables: dict[str, Any], text_in: str, text_out: str) -> tuple[list, list]:
    """Every character of a word holding an out-of-vocabulary character becomes the sentinel: char class
    (LabelEncoder) -> word ids (CumSum, +1 at each row start for pairs) -> any out-of-vocabulary per word."""
    import onnx
    from onnx import TensorProto as P
    from onnx import helper

    contrib, node = "ai.onnx.contrib", helper.make_node
    keys, values = _word_classes(tables)
    one = helper.make_tensor("v1", P.INT64, [1], [1])
    zero = helper.make_tensor("v0", P.INT64, [1], [0])
    inits = _strings({"nb_sent": SENTINEL}) + _ints({"nb_zero": 0, "nb_one": 1, "nb_two": 2, "nb_0_1d": [0],
                                                     "nb_m1_1d": [-1], "nb_1_1d": [1], "nb_2_1d": [2]})
    nodes = [
        node("StringRegexSplitWithOffsets", [text_in, "nb_char_p", "nb_char_p"], ["nb_c2", "nb_b2", "nb_e2", "nb_r2"],
             domain=contrib),
        node("LabelEncoder", ["nb_c2"], ["nb_cls"], domain="ai.onnx.ml", keys_strings=keys, values_int64s=values,
             default_int64=2),
        node("Equal", ["nb_cls", "nb_one"], ["nb_isbrk_b"]), node("Cast", ["nb_isbrk_b"], ["nb_isbrk"], to=P.INT64),
        node("Equal", ["nb_cls", "nb_two"], ["nb_oov_b"]), node("Cast", ["nb_oov_b"], ["nb_oov"], to=P.INT64),
        node("Shape", ["nb_c2"], ["nb_n"]), node("ConstantOfShape", ["nb_n"], ["nb_zeros"], value=zero),
        node("Slice", ["nb_r2", "nb_0_1d", "nb_m1_1d"], ["nb_starts"]),
        node("Min", ["nb_starts", "nb_n"], ["nb_starts_c"]),  # an empty row starts at n: keep it in range
        node("Concat", ["nb_zeros", "nb_1_1d"], ["nb_zeros1"], axis=0),
        node("Shape", ["nb_starts_c"], ["nb_ns"]), node("ConstantOfShape", ["nb_ns"], ["nb_ones_s"], value=one),
        node("ScatterElements", ["nb_zeros1", "nb_starts_c", "nb_ones_s"], ["nb_rowstart1"], reduction="max"),
        node("Slice", ["nb_rowstart1", "nb_0_1d", "nb_n"], ["nb_rowstart"]),
        node("Add", ["nb_isbrk", "nb_rowstart"], ["nb_newword"]), node("CumSum", ["nb_newword", "nb_zero"], ["nb_word"]),
        node("Mul", ["nb_n", "nb_2_1d"], ["nb_2n"]), node("Add", ["nb_2n", "nb_1_1d"], ["nb_2n1"]),
        node("ConstantOfShape", ["nb_2n1"], ["nb_zeros2"], value=zero),
        node("ScatterElements", ["nb_zeros2", "nb_word", "nb_oov"], ["nb_word_oov"], reduction="max"),
        node("Gather", ["nb_word_oov", "nb_word"], ["nb_char_in_oov"]),
        node("Sub", ["nb_one", "nb_isbrk"], ["nb_notbrk"]),
        node("Mul", ["nb_char_in_oov", "nb_notbrk"], ["nb_mark_i"]), node("Cast", ["nb_mark_i"], ["nb_mark"], to=P.BOOL),
        node("Where", ["nb_mark", "nb_sent", "nb_c2"], ["nb_c3"]),
        node("Cast", ["nb_r2"], ["nb_r2s"], to=onnx.TensorProto.STRING),
        node("StringRaggedTensorToDense", ["nb_r2", "nb_c3", "nb_r2", "nb_r2s"], ["nb_d2"], domain=contrib),
        node("StringJoin", ["nb_d2", "nb_empty", "nb_axis1"], [text_out], domain=contrib),
    ]
    return nodes, inits


def prepend(pre: Any, tokenizer_json: str) -> dict[str, Any]:
    """Put the normaliser in front of the BertTokenizer op of `pre` (a graph from gen_processing_models built with
    do_lower_case=0, strip_accents=0); returns what the manifest records."""
    from onnx import helper

    tables = build_tables(tokenizer_json)
    if SENTINEL in tables["singles"]:
        raise ValueError("the vocabulary holds U+E000, the sentinel the in-graph normaliser needs")
    graph = pre.graph
    text_in = graph.input[0].name
    clean, clean_inits = _clean_nodes(tables, text_in, "nb_clean")
    oov, oov_inits = _oov_nodes(tables, "nb_clean", "nb_normalized")
    for node in graph.node:  # the op now reads the normalised text
        node.input[:] = ["nb_normalized" if name == text_in else name for name in node.input]
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(clean + oov + old)
    graph.initializer.extend(clean_inits + oov_inits + _ints({"nb_axis1": 1}))
    del pre.opset_import[:]
    pre.opset_import.extend([helper.make_opsetid("", 20), helper.make_opsetid("ai.onnx.contrib", 1),
                             helper.make_opsetid("ai.onnx.ml", 3)])
    return {"normalizer": "Hugging Face BertNormalizer as tables in the graph (edgebert), then the op with "
                          "do_lower_case=0, strip_accents=0", "mapped_chars": len(tables["mapping"]),
            "removed_chars": len(tables["removed"]), "oov_exact": _oov_exact(tokenizer_json, tables["singles"])}


def _oov_exact(tokenizer_json: str, singles: set[str]) -> bool:
    """The sentinel rule gives Hugging Face's one [UNK] exactly when every single character is also a '##' piece
    and every piece is made of single characters (BERT's vocabularies are; a toy vocabulary may not be: then the
    gate, which runs the hostile corpus through the graph, decides)."""
    vocab = json.loads(tokenizer_json)["model"]["vocab"]
    continuations = {t[2:] for t in vocab if t.startswith("##") and len(t) == 3}
    pieces_ok = all(set(t[2:] if t.startswith("##") else t) <= singles for t in vocab if not t.startswith("["))
    return singles <= continuations | {c for c in singles if not c.isalnum()} and pieces_ok
