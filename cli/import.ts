/**
 * import: checks a received file (an LM Lab checkpoint or a plain nanoGPT state dict) and shows
 * its card; cli/share.ts does the work.
 */
import { type Command, FLAGS, type Options, text } from './args.ts';
import { importCommand, type ShareOptions } from './share.ts';

export const importFile: Command = {
  name: 'import',
  about: `validates a received file and prints its card; --out saves it as an LM Lab checkpoint (never over an existing
file). A plain nanoGPT state dict needs --n-head; its vocabulary is --vocab FILE (LM Lab tokenizer JSON, or a JSON list
of characters in id order) or the bundled corpora/vocab.json`,
  flags: [
    text('file', 'FILE', 'the received file', { required: true }), text('out', 'CKPT', 'save it as an LM Lab checkpoint'),
    text('n-head', 'H', 'attention heads of a nanoGPT state dict'), text('vocab', 'FILE', "a nanoGPT state dict's vocabulary"),
    text('corpus', 'NAME', 'the corpus it was trained on (default: tales, or imported with --vocab)'), FLAGS.json,
  ],
  run: (opts: Options) => importCommand(opts as ShareOptions),
};
