/**
 * The one loop every training command runs: helper threads that share its steps, its start line,
 * then step → print at each log interval, each evaluation and the last step → save at the end.
 */
import { writeFileSync } from 'node:fs';
import type { MetricRow } from '../src/core/io/checkpoint.ts';
import type { LabSession } from '../src/core/train/session.ts';
import { flag, FLAGS, num, type Options, print, short, str } from './args.ts';
import { shareSteps } from './gradient-threads.ts';

export interface LoopRow {
  step: number;
  valLoss?: number;
}

export interface StageLike<Row extends LoopRow = MetricRow> {
  session: LabSession;
  done: boolean;
  step(): Promise<Row>;
}

/** Lets --threads − 1 helper threads share the session's steps; `stop` ends them. */
export async function startHelpers(session: LabSession, opts: Options, backend: string): Promise<{ threads: number; stop: () => Promise<void> }> {
  const stop = await shareSteps(session.trainer, num(opts, FLAGS.threads), backend, (message) => print(flag(opts, 'json'), { event: 'note', message }, message));
  return { threads: session.trainer.helpers.length + 1, stop };
}

/** Steps the stage to its end, printing `line(row)` (or the row, with --json); saves to --out. */
export async function trainLoop<Row extends LoopRow>(stage: StageLike<Row>, opts: Options, line: (row: Row) => string): Promise<Row[]> {
  const logInterval = num(opts, FLAGS.logInterval);
  const rows: Row[] = [];
  while (!stage.done) {
    const row = await stage.step();
    rows.push(row);
    if (row.step % logInterval === 0 || row.valLoss !== undefined || stage.done) print(flag(opts, 'json'), { ...row } as Record<string, unknown>, line(row));
  }
  const out = str(opts, 'out');
  if (out) writeFileSync(out, await stage.session.toCheckpointBytes());
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
