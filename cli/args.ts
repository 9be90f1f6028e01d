/**
 * The command line's one toolkit: a command's flags (its own, and its stage's settings from the
 * core's descriptors, src/core/lesson/settings.ts), argv parsed against them, values read with a
 * one-line error that names the flag, the backend, checkpoints, printing, and the help text, which
 * is written from the same flags that are parsed so the two cannot differ.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type BackendPreference, selectBackend } from '../src/core/backend/backend.ts';
import { type CheckpointState, decodeCheckpoint, type Stage } from '../src/core/io/checkpoint.ts';
import { expected, inRange, type NumberRange, orList, readSetting, STAGE_SETTINGS } from '../src/core/lesson/settings.ts';
import { defaultThreads } from './gradient-threads.ts';

export type Options = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface Flag extends NumberRange {
  name: string;
  /** text: a value, checked where it is read; number: checked by num(); list: repeatable. */
  kind: 'text' | 'number' | 'bool' | 'list';
  /** What num() gives when the flag is absent. */
  default?: number;
  /** How help writes the value: the default, or FILE, N, a|b. */
  value?: string;
  /** Written without brackets in the synopsis (the command checks it where its message reads best). */
  required?: boolean;
  help: string;
}

export interface Command {
  name: string;
  /** What it does, as the help says it (wrapped under the synopsis). */
  about: string;
  flags: readonly Flag[];
  /** A list flag that also takes the words after it ("--files a b c", as a shell expands *.safetensors). */
  rest?: string;
  run(opts: Options): Promise<void> | void;
}

export const text = (name: string, value: string, help: string, more: Partial<Flag> = {}): Flag => ({ name, kind: 'text', value, help, ...more });
export const bool = (name: string, help: string): Flag => ({ name, kind: 'bool', help });
export function number<D extends number | undefined>(name: string, fallback: D, range: NumberRange, help: string, value?: string): Flag & { default: D } {
  return { name, kind: 'number', default: fallback, value: value ?? (fallback === undefined ? 'N' : short(fallback)), help, ...range };
}

/** The flags several commands share. */
export const FLAGS = {
  json: bool('json', 'one JSON object a line'),
  backend: text('backend', 'auto', 'auto, webgpu, wasm or cpu'),
  threads: number('threads', defaultThreads(), { whole: true, min: 1 }, 'threads sharing each step on wasm (default: one a core, at most 4; 1: this one alone)', 'N'),
  logInterval: number('log-interval', 10, { whole: true, min: 1 }, 'steps between printed lines (evaluations and the last step are always printed)'),
  out: text('out', 'FILE', 'where to save the checkpoint'),
  from: (parent: string) => text('from', parent, `the ${parent} checkpoint to start from`, { required: true }),
  ckpt: text('ckpt', 'FILE', 'the checkpoint', { required: true }),
  stories: text('text', 'FILE', "the stories' text, when the checkpoint was trained on a file rather than a bundled corpus"),
  train: (what: string, why = '') => text('train', 'FILE.jsonl', `training ${what}${why} (default: the bundled corpora/chat)`),
  val: (what: string) => text('val', 'FILE.jsonl', `held-out ${what} (default: the bundled corpora/chat)`),
} as const;

/** A stage's settings as flags: the value shown is the recipe's default. */
export function settingFlags(stage: Stage, only?: readonly string[]): Flag[] {
  return STAGE_SETTINGS[stage]
    .filter((s) => !only || only.includes(s.flag))
    .map((s) => ({
      name: s.flag,
      kind: s.kind === 'bool' ? 'bool' : 'text',
      value: s.default !== undefined ? short(s.default) : (s.placeholder ?? s.choices?.join('|')),
      help: s.choices ? `${orList(s.choices)}; ${s.help}` : s.help,
    }));
}

/** The stage's settings that the flags set, for its recipe; a bad one throws "--flag: why". */
export function settingsFrom(stage: Stage, opts: Options): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const spec of STAGE_SETTINGS[stage]) {
    const written = opts[spec.flag];
    if (written === undefined || Array.isArray(written)) continue;
    try {
      settings[spec.key] = readSetting(stage, spec, written);
    } catch (e) {
      throw new Error(`--${spec.flag}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return settings;
}

/** argv (after the command) against the command's flags; an unknown flag is refused. */
export function parseFor(cmd: Command, argv: string[]): Options {
  const options = Object.fromEntries(cmd.flags.map((f) => [f.name, { type: f.kind === 'bool' ? 'boolean' : 'string', multiple: f.kind === 'list' } as const]));
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: cmd.rest !== undefined });
    if (cmd.rest === undefined) return values as Options;
    return { ...values, [cmd.rest]: [...((values[cmd.rest] as string[] | undefined) ?? []), ...positionals] } as Options;
  } catch (e) {
    const unknown = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec((e as Error).message)?.[1];
    if (unknown) throw new Error(`${cmd.name} has no option ${unknown}; its options: npm run lab -- ${cmd.name} --help`);
    throw new Error((e as Error).message.split('\n')[0]);
  }
}

export function str(opts: Options, name: string): string | undefined {
  const v = opts[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(opts: Options, name: string): boolean {
  return opts[name] === true;
}

/** A number flag, checked against its range; its default when absent. */
export function num(opts: Options, f: Flag & { default: number }): number;
export function num(opts: Options, f: Flag): number | undefined;
export function num(opts: Options, f: Flag): number | undefined {
  const raw = str(opts, f.name);
  if (raw === undefined) return f.default;
  const value = raw.trim() === '' ? NaN : Number(raw);
  if (!inRange(f, value)) throw new Error(`--${f.name} must be ${expected(f)}, got "${raw}"`);
  return value;
}

/** A flag that must be given, or its "--name VALUE is required" error. */
export function need(opts: Options, f: Flag, why = ''): string {
  const v = str(opts, f.name);
  if (!v) throw new Error(`--${f.name} ${f.value} is required${why}`);
  return v;
}

export function print(json: boolean, obj: Record<string, unknown>, line: string): void {
  console.log(json ? JSON.stringify(obj) : line);
}

export async function useBackend(opts: Options): Promise<string> {
  const pref = (str(opts, 'backend') ?? 'auto') as BackendPreference;
  if (!['auto', 'webgpu', 'wasm', 'cpu'].includes(pref)) throw new Error(`--backend must be auto, webgpu, wasm or cpu, got "${pref}"`);
  const info = await selectBackend(pref);
  if (pref !== 'auto' && info.backend !== pref) throw new Error(`backend ${pref} is not available here (${info.reason})`);
  return info.backend;
}

/** A file's bytes; `what` names it in the error ("checkpoint "). */
export function readBytes(path: string | undefined, flagName: string, what = ''): Uint8Array {
  if (!path) throw new Error(`--${flagName} FILE is required`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new Error(`cannot read ${what}${path}`);
  }
}

/** A checkpoint's bytes and contents, checked whole. */
export function readCheckpoint(path: string | undefined, flagName: string): { bytes: Uint8Array; state: CheckpointState } {
  const bytes = readBytes(path, flagName, 'checkpoint ');
  return { bytes, state: decodeCheckpoint(bytes) };
}

/** A setting as people write it: 3e-4, not 0.00030000000000000003. */
export function short(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : String(v);
}

// ── help ──────────────────────────────────────────────────────────────────────────────────────

const PREFIX = '  npm run lab -- ';
const INDENT = ' '.repeat(PREFIX.length + 9); // under the first flag, after the command's name
const WIDTH = 118;

/** Words after `start`, wrapped at WIDTH, continuing under INDENT. */
function wrap(start: string, words: readonly string[]): string[] {
  const lines = [start];
  let filled = false;
  for (const word of words) {
    const last = lines.length - 1;
    if (filled && lines[last].length + 1 + word.length > WIDTH) lines.push(INDENT + word);
    else lines[last] += (lines[last].endsWith(' ') ? '' : ' ') + word;
    filled = true;
  }
  return lines;
}

/** The command's synopsis, then what it does. */
export function synopsis(cmd: Command): string {
  const items = cmd.flags.map((f) => {
    const written = `--${f.name}${f.value !== undefined && f.kind !== 'bool' ? ` ${f.value}` : ''}`;
    return f.required ? written : `[${written}]`;
  });
  return [...wrap(`${PREFIX}${cmd.name.padEnd(8)} `, items), ...wrap(INDENT, cmd.about.split(/\s+/))].join('\n');
}

/** One command's help: its synopsis and every flag with its default and meaning. */
export function commandHelp(cmd: Command): string {
  const rows = cmd.flags.map((f) => `    --${f.name}${f.value !== undefined && f.kind !== 'bool' ? ` ${f.value}` : ''}`);
  const width = Math.min(Math.max(...rows.map((r) => r.length)), 28) + 2;
  const row = (r: string, help: string) => (r.length < width ? r.padEnd(width) : `${r}\n${' '.repeat(width)}`) + help;
  return [synopsis(cmd), '', ...rows.map((r, i) => row(r, cmd.flags[i].help))].join('\n');
}

/** Ends the process with one "error: …" line on stderr (no stack) when `done` fails. */
export function exitOnError(done: Promise<void>): void {
  done.catch((e: unknown) => {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
