/**
 * The one loop every training command runs: helper threads that share its steps, its start line,
 * then step → print at each log interval, each evaluation and the last step → save at the end.
 */
import { writeFileSync } from 'node:fs';
import type { MetricRow } from '../src/core/io/checkpoint.ts';
import type { LabSession } from '../src/core/train/session.ts';
import type { TrainingStage } from '../src/core/train/stage.ts';
import { flag, FLAGS, num, type Options, print, short, str } from './args.ts';
import { shareSteps } from './gradient-threads.ts';

export interface LoopRow {
  step: number;
  valLoss?: number;
}

/** What the loop needs of a stage (src/core/train/stage.ts's TrainingStage, or a pretraining session), whatever its rows. */
export type StageLike<Row extends LoopRow = MetricRow> = Pick<TrainingStage, 'session' | 'done'> & { step(): Promise<Row> };

/** A session that steps by itself (pretraining) as a stage whose step gives its metric row. */
export function sessionStage(session: LabSession): StageLike<MetricRow> {
  return {
    session,
    get done() {
      return session.done;
    },
    async step() {
      await session.step();
      return session.metrics[session.metrics.length - 1];
    },
  };
}

/** Lets `threads` − 1 helper threads share the session's steps; `stop` ends them. */
export async function startHelpers(session: LabSession, how: { threads: number; backend: string; json: boolean; indent?: string }): Promise<{ threads: number; stop: () => Promise<void> }> {
  const stop = await shareSteps(session.trainer, how.threads, how.backend, (message) => print(how.json, { event: 'note', message }, `${how.indent ?? ''}${message}`));
  return { threads: session.trainer.helpers.length + 1, stop };
}

export interface LoopSettings {
  json: boolean;
  /** Steps between printed rows; absent: only evaluations and the last step. */
  logInterval?: number;
  /** Where to save the checkpoint at the end. */
  out?: string;
  /** Added to each JSON row. */
  fields?: Record<string, unknown>;
}

/** --json, --log-interval and --out. */
export const loopSettings = (opts: Options): LoopSettings => ({ json: flag(opts, 'json'), logInterval: num(opts, FLAGS.logInterval), out: str(opts, 'out') });

/** Steps the stage to its end, printing `line(row)` (or the row, as JSON) at each log interval, each evaluation and the last step. */
export async function trainLoop<Row extends LoopRow>(stage: StageLike<Row>, how: LoopSettings, line: (row: Row) => string): Promise<Row[]> {
  const rows: Row[] = [];
  while (!stage.done) {
    const row = await stage.step();
    rows.push(row);
    const due = how.logInterval !== undefined && row.step % how.logInterval === 0;
    if (due || row.valLoss !== undefined || stage.done) print(how.json, { ...row, ...how.fields }, line(row));
  }
  if (how.out) writeFileSync(how.out, await stage.session.toCheckpointBytes());
  return rows;
}

/** The stage's start: what it trains with, and which settings differ from its parent's. */
export function startLine(opts: Options, session: LabSession, backend: string, extra: Record<string, unknown>, text: string): void {
  const inherited = (session.extra.inherited ?? {}) as { overridden?: { key: string; from: unknown; to: unknown }[] };
  const overridden = inherited.overridden ?? [];
  const threads = Number(extra.threads) > 1 ? ` (${extra.threads} threads)` : '';
  print(flag(opts, 'json'), { event: 'start', stage: session.stage, backend, model: session.model.config, train: session.trainer.config, overridden, lineage: session.lineage, ...extra },
    `${text} on ${backend}${threads}, ${session.trainer.config.steps} steps; settings inherited from the parent` +
      (overridden.length ? ` except ${overridden.map((o) => `${o.key} ${short(o.from)} → ${short(o.to)}`).join(', ')}` : ''));
}

export const fmt = (v: number | undefined, digits = 4): string => (v === undefined ? '—' : v.toFixed(digits));
export const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
export const stepCol = (step: number): string => `step ${String(step).padStart(5)}`;
