/**
 * score: how likely a checkpoint finds a text, token by token.
 */
import { tokenLogProbs } from '../src/core/model/sample.ts';
import { type Command, FLAGS, type Options, str, text, useBackend } from './args.ts';
import { readTextFile } from './corpora.ts';
import { sessionFromFile } from './sample.ts';

async function run(opts: Options): Promise<void> {
  await useBackend(opts);
  const path = str(opts, 'text');
  if (!path) throw new Error('--text FILE is required');
  const session = sessionFromFile(str(opts, 'ckpt'));
  const ids = session.tokenizer.encode(readTextFile(path));
  if (ids.length < 2) throw new Error(`${path} has fewer than two characters; nothing to score`);
  const { positions, logProbs } = await tokenLogProbs(session.model, ids);
  const meanLoss = -logProbs.reduce((a, b) => a + b, 0) / logProbs.length;
  console.log(JSON.stringify({ meanLoss, tokens: positions.map((p, i) => ({ position: p, token: session.tokenizer.tokenText(ids[p]), logProb: logProbs[i] })) }));
  session.dispose();
}

export const score: Command = {
  name: 'score',
  about: 'per-token log-probs and mean loss, as JSON',
  flags: [FLAGS.ckpt, text('text', 'FILE', 'the text to score', { required: true }), FLAGS.backend],
  run,
};
