/**
 * attention: where each head looks, for a text, as `weights[layer][head][query][key]`
 * (src/core/inspect/attention.ts: each row a distribution over the past, from the model's own weights).
 */
import { attentionWeights } from '../src/core/inspect/attention.ts';
import { type Command, FLAGS, type Options, str, text, useBackend } from './args.ts';
import { lastWindow } from './lens.ts';
import { sessionFromFile } from './sample.ts';

async function run(opts: Options): Promise<void> {
  await useBackend(opts);
  const session = sessionFromFile(str(opts, 'ckpt'));
  try {
    const ids = lastWindow(session, str(opts, 'text'));
    const weights = await attentionWeights(session.model, ids);
    console.log(JSON.stringify({ tokens: Array.from(ids, (id) => session.tokenizer.tokenText(id)), weights }));
  } finally {
    session.dispose();
  }
}

export const attention: Command = {
  name: 'attention',
  about: "every layer's and head's attention over the text's tokens, as JSON weights[layer][head][query][key] (the last block-size tokens of a longer text)",
  flags: [FLAGS.ckpt, text('text', 'T', 'the text', { required: true }), FLAGS.backend, FLAGS.json],
  run,
};
