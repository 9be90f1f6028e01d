/**
 * trace: where did the model learn that? The longest spans of a text that occur word for word in
 * the training data (src/core/inspect/trace.ts): the stories of the checkpoint's corpus, and, for a
 * chat model, the SFT answers.
 */
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import { buildTraceIndex, copiedShare, longestCopiedSpans, sftAnswers, type TraceSource } from '../src/core/inspect/trace.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { type Command, FLAGS, num, number, type Options, print, readBytes, str, text } from './args.ts';
import { bundledChat, bundledTexts, isBundledCorpus, readTextFile } from './corpora.ts';

const MIN = number('min-chars', 20, { whole: true, min: 1 }, 'the shortest span that counts as copied');

function run(opts: Options): void {
  const state = decodeCheckpoint(readBytes(str(opts, 'ckpt'), 'ckpt', 'checkpoint '));
  const written = str(opts, 'text');
  if (!written) throw new Error('--text T is required');
  const storiesPath = str(opts, 'stories');
  if (!storiesPath && !isBundledCorpus(state.corpus)) throw new Error(`the checkpoint was trained on "${state.corpus}", which is not bundled; pass --stories FILE with that text`);
  const sources: TraceSource[] = [{ name: storiesPath ?? `${state.corpus}/train.txt`, texts: [storiesPath ? readTextFile(storiesPath) : bundledTexts(state.corpus).train] }];
  if (state.stage !== 'pretrain') sources.push({ name: 'sft answers', texts: sftAnswers(parseSftJsonl(readTextFile(str(opts, 'sft') ?? bundledChat('sft', 'train'))).examples) });
  const index = buildTraceIndex(sources);
  const min = num(opts, MIN);
  const spans = longestCopiedSpans(index, written, min);
  const share = copiedShare(index, written, min);
  print(Boolean(opts.json), { copiedShare: share, spans },
    [`${(share * 100).toFixed(1)}% of the ${written.length} characters lie in spans of ${min}+ characters copied from the training data`,
      ...spans.map((s) => `  [${s.start}, ${s.end}) ${JSON.stringify(s.text)} — ${s.source}, document ${s.document}, offset ${s.offset}${s.occurrences > 1 ? ` (and ${s.occurrences - 1} more places)` : ''}`)].join('\n'));
}

export const trace: Command = {
  name: 'trace',
  about: "the longest spans of the text found word for word in the checkpoint's training data (its stories; for a chat model also the SFT answers), with their source and offset, and the share of characters copied",
  flags: [FLAGS.ckpt, text('text', 'T', 'the text to trace', { required: true }), MIN, text('stories', 'FILE', 'the training stories, when not a bundled corpus'), text('sft', 'FILE.jsonl', 'the SFT conversations (default: the bundled ones)'), FLAGS.json],
  run,
};
