/**
 * lens: the logit lens, what the model would predict after each layer, per position
 * (src/core/inspect/lens.ts): the student sees at which layer the answer appears.
 */
import { logitLens } from '../src/core/inspect/lens.ts';
import type { LabSession } from '../src/core/train/session.ts';
import { type Command, FLAGS, num, number, type Options, str, text, useBackend } from './args.ts';
import { sessionFromFile } from './sample.ts';

const TOP = number('top', 1, { whole: true, min: 1 }, 'guesses per layer and position');

/** The text's tokens, its last block-size ones when longer (what the model can see at once). */
export function lastWindow(session: LabSession, written: string | undefined): Int32Array {
  if (!written) throw new Error('--text T is required');
  const ids = session.tokenizer.encode(written);
  return ids.subarray(Math.max(0, ids.length - session.model.config.blockSize));
}

async function run(opts: Options): Promise<void> {
  await useBackend(opts);
  const session = sessionFromFile(str(opts, 'ckpt'));
  try {
    const ids = lastWindow(session, str(opts, 'text'));
    const lens = await logitLens(session.model, ids, num(opts, TOP));
    const tok = (id: number) => session.tokenizer.tokenText(id);
    console.log(JSON.stringify({
      tokens: Array.from(ids, tok),
      layers: lens.top.map((positions, layer) => ({
        layer,
        positions: positions.map((guesses, position) => ({ position, top: guesses.map((g) => ({ token: tok(g.token), prob: g.prob })), next: position + 1 < ids.length ? lens.actual[layer][position] : null })),
      })),
    }));
  } finally {
    session.dispose();
  }
}

export const lens: Command = {
  name: 'lens',
  about: 'the logit lens: after the embeddings and after every layer, the likeliest next tokens at each position with their probabilities, and the probability of the token that does come next, as JSON',
  flags: [FLAGS.ckpt, text('text', 'T', 'the text', { required: true }), TOP, FLAGS.backend, FLAGS.json],
  run,
};
