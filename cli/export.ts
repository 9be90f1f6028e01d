/**
 * export: a checkpoint to send to someone (cli/share.ts does the work).
 */
import { bool, type Command, FLAGS, type Options, text } from './args.ts';
import { exportCommand, type ShareOptions } from './share.ts';

export const exportFile: Command = {
  name: 'export',
  about: `a checkpoint to share; --no-optimizer leaves out the AdamW moments (a third of the size; training continues with
fresh moments)`,
  flags: [
    FLAGS.ckpt, { ...FLAGS.out, required: true, help: 'where to write the file to send' }, bool('no-optimizer', 'leave out the AdamW moments'),
    text('hf-tokenizer', 'DIR', "a BPE model's tokenizer as Hugging Face's tokenizer.json and tokenizer_config.json in DIR"), FLAGS.json,
  ],
  run: (opts: Options) => exportCommand(opts as ShareOptions),
};
