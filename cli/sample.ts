/**
 * sample: text from a checkpoint, after a prompt.
 */
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { generateWithAlternatives } from '../src/core/model/sample.ts';
import { LabSession } from '../src/core/train/session.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, readBytes, str, text, useBackend } from './args.ts';

const TOKENS = number('tokens', 200, { whole: true, min: 1 }, 'characters to generate');
const TEMPERATURE = number('temperature', 0.8, { min: 0 }, '0: always the likeliest');
const TOP_K = number('top-k', 0, { whole: true, min: 0 }, 'draw from the K likeliest only (0: all)');
const SEED = number('seed', 1, { whole: true }, 'the draws\' seed');

/** A checkpoint ready to sample or score: no training text needed, so a stand-in long enough to pass the checks. */
export function sessionFromFile(path: string | undefined): LabSession {
  const state = decodeCheckpoint(readBytes(path, 'ckpt', 'checkpoint '));
  const filler = new Int32Array(state.model.blockSize + 1);
  return LabSession.fromCheckpoint(state, { name: state.corpus, train: filler, val: filler });
}

async function run(opts: Options): Promise<void> {
  await useBackend(opts);
  const session = sessionFromFile(str(opts, 'ckpt'));
  const prompt = str(opts, 'prompt') ?? '\n';
  const unknown = session.tokenizer.unknownChars(prompt);
  if (unknown.length) console.error(`note: the model's vocabulary lacks ${unknown.map((c) => JSON.stringify(c)).join(', ')}; they read as <|unk|>`);
  const request = { maxTokens: num(opts, TOKENS), temperature: num(opts, TEMPERATURE), topK: num(opts, TOP_K), seed: num(opts, SEED) };
  if (flag(opts, 'json')) {
    // Each token with its log-probability under the distribution it was drawn from (temperature,
    // top-k) and the model's own five likeliest at that step (temperature 1): the same forward passes.
    const written = await generateWithAlternatives(session.model, session.tokenizer.encode(prompt), request, 5);
    const tok = (id: number) => session.tokenizer.tokenText(id);
    const tokens = written.map((w) => ({ token: tok(w.token), logprob: w.logProb, top: w.top.map((a) => ({ token: tok(a.token), prob: a.prob })) }));
    print(true, { prompt, completion: session.tokenizer.decode(written.map((w) => w.token)), tokens }, '');
  } else {
    print(false, {}, prompt + (await session.sample(prompt, request)));
  }
  session.dispose();
}

export const sample: Command = {
  name: 'sample',
  about: 'text from the checkpoint after the prompt (default: a new line)',
  flags: [FLAGS.ckpt, text('prompt', 'TEXT', 'what the text starts with'), TOKENS, TEMPERATURE, TOP_K, SEED, FLAGS.backend, FLAGS.json],
  run,
};
