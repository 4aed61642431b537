// The golden gate as edgebert's Python applies it (edgebert/parity.py): fp32 max-abs <= atol; lossy formats mean
// cosine (of the mean-pooled token states, or of the output vector), every sample's cosine for embeddings, and
// argmax agreement over decisive samples for real-weight classifiers. Plus pooling and softmax for predict().

export function softmax(row) {
  const top = Math.max(...row);
  const e = row.map((x) => Math.exp(x - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

const cosine = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.max(Math.sqrt(aa) * Math.sqrt(bb), 1e-12);
};

// (T, H) token states, all valid (one text at its own length) -> (D,) as the model's sentence head says
export function pool(states, T, H, head) {
  const out = [];
  for (const mode of head.modes) {
    const v = new Float64Array(H).fill(mode === 'max' ? -Infinity : 0);
    let wsum = 0;
    for (let t = 0; t < T; t++) {
      const w = mode === 'weightedmean' ? t + 1 : 1;
      wsum += w;
      for (let h = 0; h < H; h++) {
        const x = states[t * H + h];
        if (mode === 'max') v[h] = Math.max(v[h], x); else v[h] += w * x;
      }
    }
    if (mode === 'cls') for (let h = 0; h < H; h++) v[h] = states[h];
    else if (mode === 'lasttoken') for (let h = 0; h < H; h++) v[h] = states[(T - 1) * H + h];
    else if (mode !== 'max') {
      const d = mode === 'mean_sqrt_len_tokens' ? Math.sqrt(T) : Math.max(wsum, 1e-9);
      for (let h = 0; h < H; h++) v[h] /= d;
    }
    out.push(...v);
  }
  if (head.normalize) {
    const n = Math.max(Math.sqrt(out.reduce((a, x) => a + x * x, 0)), 1e-12);
    return out.map((x) => x / n);
  }
  return out;
}

const topMargin = (row) => {
  const p = [...softmax(row)].sort((a, b) => b - a);
  return p[0] - (p[1] ?? 0);
};

/** refs/outs: [{data, shape}] per sample (shape [T, H] token states or [N] vector) -> edgebert's Parity fields */
export function compare(refs, outs, task, minMargin) {
  let maxAbs = 0;
  const cos = [], agree = [];
  refs.forEach((ref, i) => {
    const out = outs[i];
    if (ref.data.length !== out.data.length) throw new Error(`output has ${out.data.length} values, the golden reference ${ref.data.length}`);
    for (let j = 0; j < ref.data.length; j++) {
      const d = Math.abs(ref.data[j] - out.data[j]);
      maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    }
    if (ref.shape.length === 2) {
      const [T, H] = ref.shape, mean = { modes: ['mean'], normalize: false };
      cos.push(cosine(pool(ref.data, T, H, mean), pool(out.data, T, H, mean)));
    } else {
      cos.push(cosine(ref.data, out.data));
      if (task === 'classification') {
        const arg = (r) => r.indexOf(Math.max(...r));
        agree.push({ same: arg(Array.from(ref.data)) === arg(Array.from(out.data)), decisive: topMargin(Array.from(ref.data)) >= minMargin });
      }
    }
  });
  const decisive = agree.filter((a) => a.decisive);
  return {
    samples: cos.length, max_abs: maxAbs, min_cosine: Math.min(...cos), mean_cosine: cos.reduce((a, b) => a + b, 0) / cos.length,
    agreement: decisive.length ? decisive.filter((a) => a.same).length / decisive.length : null,
    raw_agreement: agree.length ? agree.filter((a) => a.same).length / agree.length : null, decisive: agree.length ? decisive.length : null,
  };
}

/** [passed, why-not], as edgebert.parity.Gate.judge */
export function judge(p, gate) {
  if (!gate.lossy) {
    return p.max_abs <= gate.atol ? [true, ''] : [false, `max-abs difference ${p.max_abs.toPrecision(3)} exceeds atol ${gate.atol}`];
  }
  if (!(p.mean_cosine >= gate.min_cosine)) return [false, `mean cosine ${p.mean_cosine.toFixed(4)} < ${gate.min_cosine}`];
  if (p.raw_agreement === null && !(p.min_cosine >= (gate.min_sample_cosine || 0))) {
    return [false, `a sample's cosine ${p.min_cosine.toFixed(4)} < ${gate.min_sample_cosine}`];
  }
  if (p.agreement !== null && gate.use_agreement && !(p.agreement >= gate.min_agreement)) {
    return [false, `argmax agreement ${p.agreement} < ${gate.min_agreement}`];
  }
  return [true, ''];
}
