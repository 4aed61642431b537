// Timing for `edgebert bench --browser`: a loaded model's runs at (batch, seq) of seeded random ids, or text to
// answer one request at a time (tokenize + run + softmax/pooling). Returns raw durations; Python makes the row.
import { pool, softmax } from './gate.mjs';

function ids(batch, seq, vocab) {
  let s = seq * 7919 + batch;  // seeded: every row and backend runs the same ids
  const next = () => { s = (s * 1103515245 + 12345) % 2147483648; return 1000 + (s % Math.max(vocab - 1000, 1)); };
  return Array.from({ length: batch }, () => Array.from({ length: seq }, (_, i) => (i === 0 ? 101 : i === seq - 1 ? 102 : next())));
}

function feed(model, rows) {
  const [b, n] = [rows.length, rows[0].length], T = model.ort.Tensor;
  const all = { input_ids: new T('int64', BigInt64Array.from(rows.flat(), BigInt), [b, n]),
    attention_mask: new T('int64', new BigInt64Array(b * n).fill(1n), [b, n]),
    token_type_ids: new T('int64', new BigInt64Array(b * n), [b, n]) };
  return Object.fromEntries(model.manifest.inputs.map((name) => [name, all[name]]));
}

export async function benchTensor(model, { batch, seq, warmup, minRuns, minSeconds }) {
  const input = feed(model, ids(batch, seq, model.tokenizer.vocab.size));
  for (let i = 0; i < warmup; i++) await model.session.run(input);
  const ms = [], end = performance.now() + minSeconds * 1000;
  while (ms.length < minRuns || performance.now() < end) {
    const t0 = performance.now();
    await model.session.run(input);
    ms.push(performance.now() - t0);
  }
  return { ms };
}

async function answer(model, text) {
  const t0 = performance.now();
  const tokens = model.tokenizer.encode(text, model.manifest.max_length);
  const t1 = performance.now();
  const out = await model.run(model.session, tokens);
  const t2 = performance.now();
  if (model.task === 'classification') softmax(Array.from(out.data)); else pool(out.data, out.shape[0], out.shape[1], model.manifest.pooling);
  return { e2e: performance.now() - t0, model: t2 - t1, tokens: tokens.length };
}

/** Every text at least once, in order, repeated until minSeconds (edgebert.bench.texts.measure's rule). */
export async function benchTexts(model, { texts, warmup, minSeconds }) {
  for (const text of texts.slice(0, warmup)) await answer(model, text);
  const runs = [], end = performance.now() + minSeconds * 1000;
  while (runs.length < texts.length || performance.now() < end) runs.push(await answer(model, texts[runs.length % texts.length]));
  return { ms: runs.map((r) => r.e2e), model_ms: runs.map((r) => r.model), tokens: runs.slice(0, texts.length).map((r) => r.tokens) };
}
