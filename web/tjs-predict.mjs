// transformers.js on an `edgebert web` folder as a local model, in Node: the tests compare its answers with
// `edgebert predict`. Usage: node tjs-predict.mjs SITE_FOLDER feature-extraction|text-classification fp32|q8 < texts.json
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [folder, task, dtype] = process.argv.slice(2);
const site = resolve(folder);
env.allowRemoteModels = false;  // a local folder only: never the Hub
env.localModelPath = `${dirname(site)}/`;
const texts = JSON.parse(readFileSync(0, 'utf8'));
const manifest = JSON.parse(readFileSync(`${site}/manifest.json`, 'utf8'));
const pipe = await pipeline(task, basename(site), { dtype, device: 'cpu' });
// One text at a time, as edgebert runs dynamic INT8: its activation scales span the batch, padding included, so a
// batched text's answer would depend on its batchmates (MiniLM q8, empty text in a batch of 6: cosine 0.96).
const out = [];
for (const text of texts) {
  if (task === 'feature-extraction') {
    const pooling = manifest.pooling.modes.length === 1 ? manifest.pooling.modes[0] : 'none';
    out.push((await pipe(text, { pooling, normalize: manifest.pooling.normalize })).tolist()[0]);
  } else {
    out.push(await pipe(text, { top_k: null }));
  }
}
process.stdout.write(JSON.stringify(out));
