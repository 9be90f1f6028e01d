/**
 * The class in one table: a teacher drops the students' checkpoint files and sees who trained what,
 * how far, and whose run went wrong. Each file is read as the Share view reads one (share.ts's
 * prepareImport: the whole file checked, a hostile one refused with its reason), then reduced to a
 * row of plain numbers. Nothing here touches the DOM or the network: the page and `lab class`
 * both call these functions, and the files never leave the teacher's machine.
 *
 * The flags are rules a teacher can read aloud:
 *   diverged          the last loss is not a number, or the run ends (averaged over a tenth of its
 *                     steps) more than half a nat above its best such average
 *   spike unrecovered a detected spike after which the loss never came back within 5% of its level
 *                     over the 20 steps before it
 *   DPO collapsed     the chosen replies' log-likelihood fell by more than 5 nats (150× less likely)
 *                     from where DPO began, averaged over a tenth of the run at each end: the margin
 *                     grew by making both replies unlikely (the likelihood displacement of the
 *                     length trap). A healthy run keeps the chosen replies about as likely as SFT did.
 */
import { CheckpointError, type CheckpointState, type LabEvent, type MetricRow, type Stage } from '../io/checkpoint.ts';
import { prepareImport } from '../io/share.ts';
import { STAGE_TITLES } from '../lesson/parents.ts';
import { countParameters } from '../model/config.ts';

export type ClassFlag = 'diverged' | 'spike unrecovered' | 'DPO collapsed';

export interface ClassRow {
  file: string;
  /** The name or group the student typed; empty when the file carries none. */
  student: string;
  stage: Stage;
  /** "base 3000 → SFT 1800 → DPO 250": each stage and its steps, oldest first. */
  lineage: string;
  steps: number;
  parameters: number;
  /** Tokens the lineage's pretraining saw, per parameter (Chinchilla's ratio is about pretraining). */
  tokensPerParameter: number;
  /** The last validation loss on the stories, nats per token. */
  valLoss: number | null;
  /** The same in bits per character: comparable across tokenizers (null where characters per token are unknown). */
  bitsPerChar: number | null;
  /** The stage's own held-out figure, named as its metric rows name it (see HEADLINES). */
  headline: { name: string; value: number } | null;
  spikes: number;
  recovered: number;
  flags: ClassFlag[];
  /** Loss by step, for the overlaid curves. */
  curve: { step: number; loss: number }[];
}

/** A file the roster refused, and why (the same one-line reason the Share view gives). */
export interface RefusedFile {
  file: string;
  reason: string;
}

/** Each stage's held-out figure, the one its view draws: [metric key, what to call it]. */
export const HEADLINES: Readonly<Record<Stage, [string, string]>> = Object.freeze({
  pretrain: ['valLoss', 'stories val loss'],
  sft: ['chatValLoss', 'held-out chat loss'],
  dpo: ['eval/rewards/accuracies', 'held-out preference accuracy'],
  rm: ['eval/accuracy', 'held-out pair accuracy'],
  rl: ['eval/verifiableExactMatch', 'held-out exact match'],
});

/** Reads one file; refuses it with the Share view's reason when it is not a checkpoint. */
export async function readClassFile(file: string, bytes: Uint8Array): Promise<ClassRow | RefusedFile> {
  try {
    const { state } = await prepareImport(bytes);
    return classRow(file, state);
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof Error) return { file, reason: e.message };
    return { file, reason: String(e) };
  }
}

export function isRefused(r: ClassRow | RefusedFile): r is RefusedFile {
  return 'reason' in r;
}

/** One checkpoint's row. */
export function classRow(file: string, state: CheckpointState): ClassRow {
  const parameters = countParameters(state.model);
  const rows = state.metrics.filter((m) => m.step < state.step);
  const tokensPerBatch = state.train.batchSize * state.model.blockSize;
  const base = state.lineage.find((l) => l.stage === 'pretrain');
  const pretrainTokens = state.stage === 'pretrain' ? state.step * tokensPerBatch : base ? (base.tokens ?? base.step * tokensPerBatch) : 0;
  const valLoss = lastOf(rows, 'valLoss');
  const [key, name] = HEADLINES[state.stage];
  const headlineValue = lastOf(rows, key);
  const spikes = state.events.filter((e) => e.event === 'spike');
  const recovered = spikes.filter((s) => recoveredFrom(rows, s)).length;
  return {
    file,
    student: state.student ?? '',
    stage: state.stage,
    lineage: [...state.lineage.map((l) => `${STAGE_TITLES[l.stage]} ${l.step}`), `${STAGE_TITLES[state.stage]} ${state.step}`].join(' → '),
    steps: state.step,
    parameters,
    tokensPerParameter: pretrainTokens / parameters,
    valLoss,
    // Another tokenizer's characters per token are known only to the run that measured its validation text (its metric rows).
    bitsPerChar: valLoss === null ? null : state.tokenizer.kind === 'char' ? bitsPerChar(valLoss, 1) : lastOf(rows, 'valBitsPerChar'),
    headline: headlineValue === null ? null : { name, value: headlineValue },
    spikes: spikes.length,
    recovered,
    flags: flagsOf(state.stage, rows, spikes.length - recovered),
    curve: rows.filter((r) => Number.isFinite(r.loss)).map((r) => ({ step: r.step, loss: r.loss })),
  };
}

/** Nats per token → bits per character: ÷ ln 2, × tokens per character (1 for a character tokenizer). */
export function bitsPerChar(natsPerToken: number, charsPerToken: number | null): number | null {
  return charsPerToken === null ? null : natsPerToken / Math.LN2 / charsPerToken;
}

function lastOf(rows: readonly MetricRow[], key: string): number | null {
  for (let i = rows.length - 1; i >= 0; i--) if (typeof rows[i][key] === 'number') return rows[i][key];
  return null;
}

/** Did the loss come back within 5% of its level over the 20 steps before the spike? */
export function recoveredFrom(rows: readonly MetricRow[], spike: LabEvent): boolean {
  const before = rows.filter((r) => r.step < spike.step && r.step >= spike.step - 20).map((r) => r.loss).filter(Number.isFinite);
  if (before.length === 0) return true; // nothing to compare with: not flagged
  const level = median(before);
  return rows.some((r) => r.step > spike.step && r.loss <= level * 1.05);
}

export function flagsOf(stage: Stage, rows: readonly MetricRow[], unrecoveredSpikes: number): ClassFlag[] {
  const flags: ClassFlag[] = [];
  const losses = rows.map((r) => r.loss);
  // Batches are noisy: compare moving averages over a tenth of the run. RL's loss is a policy
  // gradient's, around 0 by construction, so only a non-number counts there.
  const smooth = movingAverage(losses, Math.max(1, Math.floor(losses.length / 10)));
  const last = losses[losses.length - 1];
  if (losses.length > 0 && (!Number.isFinite(last) || (stage !== 'rl' && smooth[smooth.length - 1] > Math.min(...smooth) + 0.5))) flags.push('diverged');
  if (unrecoveredSpikes > 0) flags.push('spike unrecovered');
  if (stage === 'dpo') {
    const chosen = movingAverage(rows.map((r) => r['logps/chosen']).filter(Number.isFinite), Math.max(1, Math.floor(rows.length / 10)));
    if (chosen.length >= 2 && chosen[chosen.length - 1] < chosen[0] - 5) flags.push('DPO collapsed');
  }
  return flags;
}

function movingAverage(xs: readonly number[], window: number): number[] {
  const out: number[] = [];
  for (let i = window - 1; i < xs.length; i++) out.push(xs.slice(i - window + 1, i + 1).reduce((a, b) => a + b, 0) / window);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const CSV_COLUMNS = ['file', 'student', 'stage', 'lineage', 'steps', 'parameters', 'tokensPerParameter', 'valLoss', 'bitsPerChar', 'headline', 'headlineValue', 'spikes', 'recovered', 'flags'] as const;

/** The table as CSV (RFC 4180 quoting), one row a file, refused files last with their reason. */
export function classCsv(rows: readonly ClassRow[], refused: readonly RefusedFile[] = []): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    // A leading = + - @ would run as a formula in a spreadsheet: a student's name is data, not code.
    const safe = /^[=+\-@]/.test(s) && Number.isNaN(Number(s)) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [[...CSV_COLUMNS, 'refused'].join(',')];
  for (const r of rows) {
    lines.push([r.file, r.student, r.stage, r.lineage, r.steps, r.parameters, round(r.tokensPerParameter), round(r.valLoss), round(r.bitsPerChar), r.headline?.name, round(r.headline?.value ?? null), r.spikes, r.recovered, r.flags.join('; '), ''].map(cell).join(','));
  }
  for (const f of refused) lines.push([f.file, ...CSV_COLUMNS.slice(1).map(() => ''), f.reason].map(cell).join(','));
  return lines.join('\r\n') + '\r\n';
}

const round = (v: number | null) => (v === null ? null : Number(v.toPrecision(6)));
