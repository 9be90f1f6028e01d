/**
 * compare: what each stage changed. A prompt and a reply scored under every checkpoint given (base,
 * SFT, DPO, RL…): per reply token, the log-probability under each and the change from the one before
 * (src/core/inspect/compare.ts).
 */
import { renderPrompt, renderReply } from '../src/core/post/chat.ts';
import { compareModels } from '../src/core/inspect/compare.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { GPT } from '../src/core/model/model.ts';
import { tokenizerFromJSON } from '../src/core/data/tokenizers.ts';
import { type Command, FLAGS, type Options, readBytes, str, text, useBackend } from './args.ts';

async function run(opts: Options): Promise<void> {
  const paths = (str(opts, 'ckpts') ?? '').split(',').filter(Boolean);
  if (paths.length === 0) throw new Error('--ckpts A,B,C is required');
  const prompt = str(opts, 'prompt');
  const reply = str(opts, 'reply');
  if (prompt === undefined || reply === undefined) throw new Error('--prompt P and --reply R are required');
  await useBackend(opts);
  const states = paths.map((p) => decodeCheckpoint(readBytes(p, 'ckpts', 'checkpoint ')));
  const vocab = JSON.stringify(states[0].tokenizer);
  if (states.some((s) => JSON.stringify(s.tokenizer) !== vocab)) throw new Error('the checkpoints have different tokenizers: their log-probabilities are not comparable token by token');
  const tok = tokenizerFromJSON(states[0].tokenizer);
  // The reply in the chat format, after the prompt as one user turn: the tokens each stage was trained to write.
  const head = renderPrompt(tok, [{ role: 'user', content: prompt }]);
  const ids = Int32Array.from([...head, ...renderReply(tok, reply)]);
  const models = states.map((s) => new GPT(s.model, s.weights));
  try {
    const c = await compareModels(models, ids, head.length);
    console.log(JSON.stringify({
      checkpoints: paths.map((p, i) => ({ file: p, stage: states[i].stage, step: states[i].step, total: c.totals[i] })),
      tokens: c.positions.map((p, i) => ({ position: p, token: tok.tokenText(c.tokens[i]), logProbs: c.logProbs.map((m) => m[i]), deltas: c.deltas.map((d) => (d ? d[i] : null)) })),
    }));
  } finally {
    for (const m of models) m.dispose();
  }
}

export const compare: Command = {
  name: 'compare',
  about: "a prompt and a reply scored under each checkpoint (in lineage order: base, SFT, DPO, RL): per reply token its log-probability under each and the change from the one before, as JSON",
  flags: [text('ckpts', 'A,B,C', 'the checkpoints, comma separated', { required: true }), text('prompt', 'P', "the user's turn", { required: true }), text('reply', 'R', "the assistant's reply", { required: true }), FLAGS.backend, FLAGS.json],
  run,
};
