"""Text users send that ordinary sentences never test: empty strings, emoji, CJK, right-to-left scripts, zero-width
and control characters, decomposed accents, punctuation runs, 3000-character words, capitals outside ASCII, and
texts whose length lands exactly on a truncation boundary (127/128/129 and 511/512/513 tokens). (name, class, text).

Export gates every bundle on these as well as on ordinary sentences; `REGRESSIONS` keeps each divergence found so
far, shrunk to a minimal string, so a fix stays fixed. HOLDOUT has the same classes with other strings: for checking
a choice made on the corpus (a calibration set, which layers stay fp32) on text it was not made on."""
from __future__ import annotations

from typing import Any

BASE = [
    ("empty", "empty", ""),
    ("space-only", "empty", "   \t\n "),
    ("emoji", "emoji", "I love it 😀👍🏽🎉 — best day ever ❤️"),
    ("emoji-only", "emoji", "🔥🔥🔥"),
    ("emoji-zwj-family", "emoji", "family 👨‍👩‍👧‍👦 and flag 🇩🇪"),
    ("cjk-zh", "cjk", "我喜欢这部电影，非常好看！"),
    ("cjk-ja", "cjk", "東京は今日、とても暑いです。カタカナ"),
    ("cjk-ko", "cjk", "오늘 날씨가 정말 좋네요"),
    ("cjk-mixed", "cjk", "The model 模型 runs on 手机 devices."),
    ("fullwidth", "cjk", "ＡＢＣ　ｆｕｌｌｗｉｄｔｈ　１２３"),
    ("arabic", "rtl", "أحب هذا الفيلم كثيرا"),
    ("arabic-harakat", "rtl", "مَرْحَبًا بِكُمْ"),
    ("hebrew", "rtl", "אני אוהב את הסרט הזה"),
    ("hebrew-niqqud", "rtl", "שָׁלוֹם עֲלֵיכֶם"),
    ("rtl-marks", "rtl", "abc \u200fשלום\u200e def \u202eevil\u202c"),
    ("zwsp", "zero-width", "zero\u200bwidth\u200bspace here"),
    ("zwnj", "zero-width", "non\u200cjoiner and joiner\u200dhere"),
    ("bom", "zero-width", "\ufeffbyte order mark at start"),
    ("zw-in-word", "zero-width", "pass\u200bword re\u2060set ap\u00adple"),  # + word joiner, soft hyphen
    ("nfd-accents", "accents", "Cafe\u0301 Zu\u0308rich cre\u0300me bru\u0302le\u0301e"),
    ("nfc-accents", "accents", "Café Zürich crème brûlée naïve"),
    ("accents-upper", "accents", "ÉCOLE ÀÉÎÕÜ Ångström"),
    ("combining-only", "accents", "a\u0301\u0302\u0303\u0304 \u0301"),
    ("vietnamese", "accents", "Tiếng Việt có dấu rất nhiều"),
    ("ligature-compat", "accents", "ﬁnance ﬂow Ⅳ ² ½ ㎏ ℌ"),
    ("control-c0", "control", "tab\tnew\nline\rcarriage \x00nul \x01\x02\x07bell \x1b[31mansi\x1b[0m"),
    ("control-del", "control", "del\x7fete \x1f unit sep"),
    ("control-c1", "control", "c1\x85next\x9fline"),
    ("replacement-char", "control", "bad \ufffd bytes \ufffd"),
    ("punct-run", "punctuation", "!!!!!!???...,,,;;;:::---___***" * 3),
    ("punct-mixed", "punctuation", "Wait...what?!?! (really) [no] {yes} <maybe> \"quoted\" 'single' `tick` ~tilde~"),
    ("unicode-punct", "punctuation", "«guillemets» „quotes“ ‘curly’ — – … · • ¿qué? ¡sí!"),
    ("long-word-3000", "long-word", "x" * 3000),
    ("long-word-mixed", "long-word", "start " + ("abc" * 1000) + " end"),
    ("long-word-101", "long-word", "a" * 101),  # WordPiece max_input_chars_per_word = 100
    ("long-word-100", "long-word", "b" * 100),
    ("cyrillic-caps", "caps", "ПРИВЕТ МИР Москва"),
    ("greek-caps", "caps", "ΓΕΙΑ ΣΟΥ ΚΟΣΜΕ Αθήνα"),
    ("greek-final-sigma", "caps", "ΟΔΥΣΣΕΥΣ"),
    ("turkish-i", "caps", "İstanbul ISTANBUL ıi"),
    ("german-sz", "caps", "STRASSE Straße ẞ"),
    ("math-symbols", "symbols", "∑∫√∞ ≠ ≤ ≥ → ⇒ ∀x∃y 𝔸𝕓𝒞"),
    ("numbers", "symbols", "3.14159 1,000,000 -42 +7e10 0x1F 12:30 50% $9.99 €5"),
    ("url-email", "symbols", "see https://example.com/a?b=c&d=e#f or mail me@example.org"),
    ("code", "symbols", "def f(x): return x**2 if x>0 else {'a': [1,2]}"),
    ("whitespace-variety", "whitespace", "a\u00a0b\u2003c\u2009d\u3000e\u2028f\u2029g"),
    ("thai", "script", "สวัสดีครับ ภาษาไทย"),
    ("devanagari", "script", "नमस्ते दुनिया"),
    ("mixed-everything", "mixed", "Héllo 世界 🌍 مرحبا \u200b ΑΒΓ \x07 !!! naïve"),
]


def _n_tokens(tok: Any, text: str) -> int:
    return len(tok.encode(text).ids)  # a tokenizers.Tokenizer without truncation: [CLS] ... [SEP]


def boundary_texts(tok: Any, lengths: tuple[int, ...] = (127, 128, 129, 511, 512, 513)) -> list[tuple[str, str, str]]:
    """Texts whose untruncated length is exactly N tokens: one of whole words, one ending on a split word
    (truncation cuts between its WordPieces when N exceeds the bundle's length)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tok.to_str())  # a copy without the file's own truncation/padding (MiniLM's: 128)
    tok.no_truncation()
    tok.no_padding()
    out = []
    words = "the quick brown fox jumps over a lazy dog while it rains in paris and berlin".split()
    for n in lengths:
        body = [words[i % len(words)] for i in range(n - 2)]
        text = " ".join(body)
        if _n_tokens(tok, text) == n:  # a vocabulary without these words cannot make a whole-word boundary
            out.append((f"boundary-{n}-words", "boundary", text))
        # end on a word that splits into several pieces ("unbelievably" -> un ##bel ##ie ##va ##bly or similar)
        tail = "photosynthesizing"
        k = _n_tokens(tok, tail) - 2
        text2 = " ".join(body[: n - 2 - k] + [tail])
        if _n_tokens(tok, text2) == n:
            out.append((f"boundary-{n}-split", "boundary", text2))
        # CJK at the boundary: each ideograph is one token after handle_chinese_chars
        text3 = " ".join(body[: n - 2 - 4]) + " 模型手机"
        if _n_tokens(tok, text3) == n:
            out.append((f"boundary-{n}-cjk", "boundary", text3))
    return out


def corpus(tok: Any | None = None, lengths: tuple[int, ...] | None = None) -> list[tuple[str, str, str]]:
    """The fixed texts, plus boundary texts for a tokenizer (a tokenizers.Tokenizer) at the given lengths."""
    if tok is None:
        return list(BASE)
    return list(BASE) + boundary_texts(tok, lengths or (127, 128, 129, 511, 512, 513))


def texts(tok: Any | None = None, lengths: tuple[int, ...] | None = None) -> list[str]:
    return [text for _, _, text in corpus(tok, lengths)]


HOLDOUT = [  # same classes, other strings: for checking choices made on the corpus above
    ("h-empty-nl", "empty", "\n"),
    ("h-emoji", "emoji", "🙂 ok 🚀🚀 launch day 🎂"),
    ("h-cjk", "cjk", "日本語のテキストと中文混合，测试一下。"),
    ("h-arabic", "rtl", "الطقس جميل اليوم في القاهرة"),
    ("h-hebrew", "rtl", "מזג האוויר יפה היום בתל אביב"),
    ("h-zw", "zero-width", "in\u200bvisible sep\u200carators every\u200dwhere\ufeff"),
    ("h-nfd", "accents", "Pe\u0301rez Mu\u0308ller Sa\u0303o Paulo"),
    ("h-accents", "accents", "Łódź Ørsted Ærø Škoda Čapek Đorđe"),
    ("h-control", "control", "line\x0bfeed\x0cform \x08back\x1dgroup"),
    ("h-punct", "punctuation", "?!?!?!..........!!!!!!!!,,,,,,;;;;" * 2),
    ("h-longword", "long-word", "z" * 1500 + " tail"),
    ("h-caps", "caps", "ЗДРАВСТВУЙТЕ ΚΑΛΗΜΕΡΑ ÇA VA"),
    ("h-symbols", "symbols", "∆x ≈ 0.001 ± 5% → ∞; ©2024 ™ ®"),
    ("h-mixed", "mixed", "Ünïcödé 🎉 текст 文字 \u200b\x07 ¿¡"),
    ("h-plain-1", "plain", "Please send the invoice to the accounting department by Friday."),
    ("h-plain-2", "plain", "The cat chased a laser pointer around the living room for an hour."),
]


# Divergences found so far, shrunk to minimal strings (issue 21): onnxruntime-extensions' BertTokenizer op before
# the in-graph normaliser (ToLower/StripAccent tables, C-string NUL, partial WordPiece on an unknown char, its own
# punctuation and CJK sets) and MediaPipe's tokenizer without the app-side normalisation (ASCII-only lowercase, no
# accent strip, no control or zero-width removal, ASCII-only whitespace, a 100-byte word limit).
REGRESSIONS = [
    "ΓΕΙΑ", "ПРИВЕТ", "İ", "ẞ", "ế", "한", "أ", "ά", "\ufeffhi", "del\x7fete", "a \ufffd b", "f\u2028g", "a\x00b",
    "great😀", "a，b", "pass\u200bword", "a\u00a0b", "c1\x85x", "ж" * 60, "\U0002b820x", "≠", "ﬁ",
]
