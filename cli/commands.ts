/**
 * Every command, in the order the help lists them, and the help they make together: each command's
 * file declares its flags (a training stage's come from the core's descriptors,
 * src/core/lesson/settings.ts), and the help is written from the same flags that parsing accepts.
 */
import { type Command, synopsis } from './args.ts';
import { anneal } from './anneal.ts';
import { attention } from './attention.ts';
import { bench } from './bench.ts';
import { classTable } from './class.ts';
import { compare } from './compare.ts';
import { curation } from './curation.ts';
import { data } from './data.ts';
import { dpo } from './dpo.ts';
import { evaluate } from './eval.ts';
import { exportFile } from './export.ts';
import { importFile } from './import.ts';
import { inspect } from './inspect.ts';
import { lens } from './lens.ts';
import { lesson } from './lesson.ts';
import { pretrain } from './pretrain.ts';
import { rl } from './rl.ts';
import { rm } from './rm.ts';
import { sample } from './sample.ts';
import { scaling } from './scaling.ts';
import { score } from './score.ts';
import { sft } from './sft.ts';
import { tokenizeText, tokenizer } from './tokenizer.ts';
import { trace } from './trace.ts';

export const COMMANDS: readonly Command[] = [lesson, data, curation, tokenizer, tokenizeText, pretrain, sample, score, inspect, exportFile, importFile, sft, dpo, evaluate, rm, rl, scaling, anneal, attention, lens, trace, compare, classTable, bench];

export const HELP = [
  'LM Lab command line: npm run lab -- <command> [options]; npm run lab -- <command> --help explains each option',
  '',
  ...COMMANDS.map(synopsis),
  '',
  `With --json every log line is one JSON object, and the last is a summary. On wasm, pretraining, SFT and RL share
each step's rows between --threads N worker threads (default: one a core, at most 4; 1: one thread).`,
].join('\n');

