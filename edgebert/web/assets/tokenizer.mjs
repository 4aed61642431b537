// WordPiece (BERT) tokenization from a Hugging Face tokenizer.json, matching the Rust `tokenizers` library that
// edgebert's Python side uses: BertNormalizer, BertPreTokenizer, WordPiece, [CLS] A [SEP], truncation.
// `edgebert web` refuses any other tokenizer.json at export, so the checks below only guard hand-made sites.

const CJK = [[0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f], [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f]];
const isCjk = (cp) => CJK.some(([lo, hi]) => cp >= lo && cp <= hi);
// Rust's char::is_whitespace is Unicode White_Space; \t \n \r count as whitespace, not control (tokenizers bert.rs)
const isWhitespace = (ch) => /\p{White_Space}/u.test(ch);
const isControl = (ch) => ch !== '\t' && ch !== '\n' && ch !== '\r' && /\p{C}/u.test(ch);
// is_ascii_punctuation also takes $+<=>^`|~ (Unicode symbols), then every Unicode P* category
const isPunct = (ch) => /[!-\/:-@\[-`{-~]/.test(ch) || /\p{P}/u.test(ch);

export class WordPieceTokenizer {
  constructor(spec) {
    const norm = spec.normalizer || {};
    const model = spec.model || {};
    if (model.type !== 'WordPiece') throw new Error(`tokenizer.json model is ${model.type}, not WordPiece`);
    if (norm.type !== 'BertNormalizer') throw new Error(`tokenizer.json normalizer is ${norm.type}, not BertNormalizer`);
    if ((spec.pre_tokenizer || {}).type !== 'BertPreTokenizer') throw new Error('tokenizer.json pre_tokenizer is not BertPreTokenizer');
    this.norm = norm;
    this.stripAccents = norm.strip_accents ?? norm.lowercase;  // tokenizers: strip_accents defaults to lowercase
    this.vocab = new Map(Object.entries(model.vocab));
    this.unk = this.vocab.get(model.unk_token);
    this.prefix = model.continuing_subword_prefix ?? '##';
    this.maxChars = model.max_input_chars_per_word ?? 100;
    const post = spec.post_processor || {};
    const single = post.type === 'TemplateProcessing' ? post.single : [{ SpecialToken: { id: '[CLS]' } }, { Sequence: {} }, { SpecialToken: { id: '[SEP]' } }];
    this.template = single.map((p) => (p.SpecialToken ? this.vocab.get(p.SpecialToken.id) : null));
    // special added tokens match on the raw text before normalization (normalized: false), longest first
    const added = (spec.added_tokens || []).filter((t) => t.special && !t.normalized);
    this.specialIds = new Map(added.map((t) => [t.content, t.id]));  // added tokens may lie outside the vocab
    const specials = added.map((t) => t.content).sort((a, b) => b.length - a.length);
    this.specialRe = specials.length ? new RegExp(`(${specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`) : null;
  }

  normalize(text) {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (this.norm.clean_text) {
        if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
        if (isWhitespace(ch)) { out += ' '; continue; }
      }
      out += this.norm.handle_chinese_chars && isCjk(cp) ? ` ${ch} ` : ch;
    }
    if (this.stripAccents) out = out.normalize('NFD').replace(/\p{Mn}/gu, '');
    // per code point, as Rust's char::to_lowercase: no final-sigma rule (String.toLowerCase would apply it)
    if (this.norm.lowercase) out = Array.from(out, (ch) => ch.toLowerCase()).join('');
    return out;
  }

  words(text) {
    const words = [];
    let cur = '';
    for (const ch of text) {
      if (isWhitespace(ch)) { if (cur) words.push(cur); cur = ''; }
      else if (isPunct(ch)) { if (cur) words.push(cur); words.push(ch); cur = ''; }
      else cur += ch;
    }
    if (cur) words.push(cur);
    return words;
  }

  wordpiece(word) {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unk];
    const ids = [];
    for (let start = 0; start < chars.length;) {
      let end = chars.length, id;
      for (; end > start; end--) {
        const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        if (this.vocab.has(piece)) { id = this.vocab.get(piece); break; }
      }
      if (id === undefined) return [this.unk];  // one unknown piece makes the whole word [UNK]
      ids.push(id);
      start = end;
    }
    return ids;
  }

  /** text -> ids with the template's special tokens, cut to maxLength (content first, as longest_first does). */
  encode(text, maxLength) {
    if (typeof text !== 'string') throw new TypeError(`a text must be a string, got ${text === null ? 'null' : typeof text}`);
    const parts = this.specialRe ? text.split(this.specialRe) : [text];
    const content = [];
    parts.forEach((part, i) => {
      if (i % 2 === 1) content.push(this.specialIds.get(part));
      else for (const w of this.words(this.normalize(part))) content.push(...this.wordpiece(w));
    });
    const nSpecial = this.template.filter((t) => t !== null).length;
    const body = content.slice(0, Math.max(0, maxLength - nSpecial));
    return this.template.flatMap((t) => (t === null ? body : [t]));
  }
}
