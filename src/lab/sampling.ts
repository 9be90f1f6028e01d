/**
 * Sampling in the worker, reading each next-token distribution asynchronously.
 *
 * core/sample.ts reads logits with dataSync(). On the WebGPU backend a synchronous read goes
 * through an OffscreenCanvas WebGPU context, which takes down Chromium's GPU process where
 * canvases cannot share images with it (headless Chromium on SwiftShader), losing the device and
 * the run. `await data()` is a plain buffer map and costs nothing extra on wasm and cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { pickToken } from '../core/sample.ts';
import type { LabSession } from '../core/session.ts';

export interface SampleSettings {
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
}

/** Continues `prompt` by up to maxTokens characters with the session's current weights. */
export async function sampleText(session: LabSession, prompt: string, opts: SampleSettings): Promise<string> {
  const { model, tokenizer } = session;
  const ids = Array.from(tokenizer.encode(prompt.length > 0 ? prompt : '\n'));
  const rng = new Random(opts.seed);
  const out: number[] = [];
  const T = model.config.blockSize;
  for (let i = 0; i < opts.maxTokens; i++) {
    const window = Int32Array.from(ids.slice(-T));
    const last = tf.tidy(() => {
      const logits = model.forwardTimeMajor(tf.tensor2d(window, [window.length, 1], 'int32')); // [T, V]
      return tf.slice(logits, [window.length - 1, 0], [1, -1]); // [1, V]
    });
    const logits = (await last.data()) as Float32Array;
    last.dispose();
    const next = pickToken(logits, opts.temperature, opts.topK, rng);
    ids.push(next);
    out.push(next);
  }
  return tokenizer.decode(out);
}
