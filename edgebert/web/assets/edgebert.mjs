// edgebert in a web page: `const model = await load(url)`, `await model.predict(texts)`, `await model.selfTest()`,
// `model.backend`. Every file is checked against manifest.json's sha256 before it is used; the backend is the fastest
// one that passes the golden set here, measured on first load (`model.choice` says why), or the one you force.
import { WordPieceTokenizer } from './tokenizer.mjs';
import { compare, judge, pool, softmax } from './gate.mjs';

export const BACKENDS = ['wasm', 'webgpu'];
const WARMUP = 2, TIMED = 5;  // a short run: enough to rank backends that differ by x2, not a benchmark

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) throw new Error('SubtleCrypto is unavailable: serve the page over https or from localhost');
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

async function fetchBytes(base, name) {
  let res;
  try { res = await fetch(new URL(name, base)); } catch (e) { throw new Error(`cannot fetch ${name}: ${e.message}`); }
  if (!res.ok) throw new Error(`${name} is missing (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A file's bytes, refused unless its size and sha256 are the manifest's. */
async function fetchChecked(base, manifest, name) {
  const meta = manifest.files[name];
  if (!meta) throw new Error(`${name} is not one of manifest.json's checksummed files; refused`);
  const bytes = await fetchBytes(base, name);
  if (bytes.length !== meta.bytes || (await sha256(bytes)) !== meta.sha256) {
    throw new Error(`${name} does not match the sha256 in manifest.json (corrupt or modified); refused`);
  }
  return bytes;
}

async function availableBackends() {
  const list = ['wasm'];
  try { if (globalThis.navigator?.gpu && (await navigator.gpu.requestAdapter())) list.push('webgpu'); } catch { /* no adapter */ }
  return list;
}

class Model {
  constructor(ort, base, manifest, tokenizer, precision, threads) {
    Object.assign(this, { ort, base, manifest, tokenizer, precision, threads });
    this.task = manifest.task;
    this.backend = null;
    this.choice = null;  // {candidates: [{backend, status, p50_ms, golden, reason}], chosen, why}
    this.session = null;
    this._bytes = {};
    this._golden = {};
  }

  feed(ids) {
    const n = ids.length, t = this.ort.Tensor;
    const all = { input_ids: new t('int64', BigInt64Array.from(ids, BigInt), [1, n]),
      attention_mask: new t('int64', new BigInt64Array(n).fill(1n), [1, n]),
      token_type_ids: new t('int64', new BigInt64Array(n), [1, n]) };
    return Object.fromEntries(this.manifest.inputs.map((name) => [name, all[name]]));
  }

  async run(session, ids) {
    const out = await session.run(this.feed(ids));
    const tensor = out[session.outputNames[0]];
    return { data: tensor.data, shape: tensor.dims.slice(1).map(Number) };
  }

  async session_(precision, backend) {
    const v = this.manifest.variants[precision];
    this._bytes[precision] ??= await fetchChecked(this.base, this.manifest, v.file);
    return this.ort.InferenceSession.create(this._bytes[precision], { executionProviders: [backend], graphOptimizationLevel: 'all' });
  }

  async golden(precision) {
    const v = this.manifest.variants[precision];
    this._golden[precision] ??= JSON.parse(new TextDecoder().decode(await fetchChecked(this.base, this.manifest, v.golden)));
    return this._golden[precision];
  }

  /** The golden set on one session, judged by the gate the bundle passed at export; the tokenizer is checked too. */
  async check(session, precision) {
    const samples = await this.golden(precision), gate = this.manifest.variants[precision].gate;
    const outs = [];
    for (const s of samples) {
      const ids = this.tokenizer.encode(s.text, this.manifest.golden_max_tokens);
      if (ids.join() !== s.input_ids.join()) return { passed: false, reason: `the tokenizer gives other ids than Python for golden text ${JSON.stringify(s.text)}` };
      outs.push(await this.run(session, ids));
    }
    const parity = compare(samples.map((s) => ({ data: s.reference, shape: s.shape })), outs, this.task, gate.min_margin);
    const [passed, reason] = judge(parity, gate);
    return { passed, reason, ...parity };
  }

  async time(session, precision) {
    const ids = (await this.golden(precision))[0].input_ids, ms = [];
    for (let i = 0; i < WARMUP + TIMED; i++) {
      const t0 = performance.now();
      await this.run(session, ids);
      if (i >= WARMUP) ms.push(performance.now() - t0);
    }
    return { p50_ms: median(ms), runs_ms: ms, tokens: ids.length };
  }

  /** Every candidate backend: golden check, then a short timed run; the fastest that passes is used. */
  async choose(forced) {
    const candidates = [];
    const backends = forced ? [forced] : await availableBackends();
    for (const backend of backends) {
      let session;
      try { session = await this.session_(this.precision, backend); } catch (e) {
        if (e.message.includes('sha256') || e.message.includes('missing')) throw e;
        candidates.push({ backend, status: 'unavailable', reason: e.message }); continue;
      }
      const golden = await this.check(session, this.precision);
      const row = { backend, status: golden.passed ? 'pass' : 'fail', golden, reason: golden.reason };
      if (golden.passed) Object.assign(row, await this.time(session, this.precision));
      candidates.push(row);
      if (golden.passed && (!this.session || row.p50_ms < this.choice.p50_ms)) {
        if (this.session) await this.session.release();
        this.session = session; this.backend = backend; this.choice = row;
      } else await session.release();
    }
    if (!this.session) {
      throw new Error(`no backend passes the golden set: ${candidates.map((c) => `${c.backend}: ${c.status} (${c.reason})`).join('; ')}`);
    }
    const why = candidates.map((c) => `${c.backend} ${c.status}${c.p50_ms !== undefined ? ` p50 ${c.p50_ms.toFixed(2)} ms` : ''}`).join(', ');
    this.choice = { chosen: this.backend, forced: Boolean(forced), threads: this.threads, precision: this.precision, candidates, why };
  }

  /** Texts -> labels + softmax scores (classifiers) or sentence embeddings (encoders), as `edgebert predict`. */
  async predict(texts) {
    if (!Array.isArray(texts)) throw new TypeError('predict() takes an array of strings');
    texts.forEach((t, i) => { if (typeof t !== 'string') throw new TypeError(`predict(): text ${i} is ${t === null ? 'null' : typeof t}, not a string`); });
    const results = [];
    for (const text of texts) {
      const ids = this.tokenizer.encode(text, this.manifest.max_length);
      const out = await this.run(this.session, ids);
      if (this.task === 'classification') {
        const probs = softmax(Array.from(out.data)), best = probs.indexOf(Math.max(...probs));
        const name = (i) => this.manifest.labels[i] ?? String(i);
        results.push({ text, label: name(best), score: probs[best], scores: Object.fromEntries(probs.map((p, i) => [name(i), p])) });
      } else {
        results.push({ text, embedding: pool(out.data, out.shape[0], out.shape[1], this.manifest.pooling) });
      }
    }
    return results;
  }

  /** sha256 of every file in the manifest, then the golden set of every precision on every available backend. */
  async selfTest() {
    const files = [];
    for (const name of Object.keys(this.manifest.files)) {
      try { await fetchChecked(this.base, this.manifest, name); files.push({ name, ok: true }); } catch (e) { files.push({ name, ok: false, reason: e.message }); }
    }
    const checks = [];
    for (const precision of Object.keys(this.manifest.variants)) {
      for (const backend of await availableBackends()) {
        try {
          const session = await this.session_(precision, backend);
          checks.push({ precision, backend, ...(await this.check(session, precision)) });
          await session.release();
        } catch (e) { checks.push({ precision, backend, passed: false, reason: e.message }); }
      }
    }
    return { passed: files.every((f) => f.ok) && checks.every((c) => c.passed), files, checks };
  }

  async dispose() { if (this.session) await this.session.release(); this.session = null; }
}

/** Load a site folder: verify what it uses, check the golden set, pick the backend. Options: {backend, precision, threads}. */
export async function load(url, options = {}) {
  const { backend, precision: wanted, threads: askedThreads } = options;
  if (backend !== undefined && !BACKENDS.includes(backend)) throw new Error(`unknown backend '${backend}'. Valid: ${BACKENDS.join(', ')}`);
  const base = new URL(String(url).endsWith('/') ? String(url) : `${url}/`, globalThis.location?.href);
  let manifest;
  try { manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(base, 'manifest.json'))); } catch (e) {
    throw new Error(`${base.href} is not an edgebert web folder: ${e.message}`);
  }
  const precision = wanted ?? Object.keys(manifest.variants)[0];
  if (!manifest.variants[precision]) throw new Error(`precision '${precision}' is not in this site. Valid: ${Object.keys(manifest.variants).join(', ')}`);
  const [tok, wasm] = await Promise.all([fetchChecked(base, manifest, manifest.tokenizer), fetchChecked(base, manifest, manifest.runtime.wasm)]);
  const ort = await import(new URL(manifest.runtime.module, base).href);
  // threads need SharedArrayBuffer, which browsers give only to crossOriginIsolated pages (COOP + COEP headers)
  const threads = globalThis.crossOriginIsolated ? (askedThreads ?? Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmBinary = wasm;  // the verified bytes, not a second unchecked fetch
  ort.env.wasm.wasmPaths = new URL('ort/', base).href;
  const model = new Model(ort, base, manifest, new WordPieceTokenizer(JSON.parse(new TextDecoder().decode(tok))), precision, threads);
  await model.choose(backend);
  return model;
}
