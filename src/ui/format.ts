/** Numbers as a student reads them: 0.11 M parameters, 1.2 MB, 3 min ago, 2:05. */
import { STAGE_NAMES } from '../core/lesson/parents.ts';

export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return Math.round(n).toLocaleString('en');
}

export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function ago(time: number, now = Date.now()): string {
  const s = Math.max(0, (now - time) / 1000);
  if (s < 45) return 'just now';
  if (s < 90) return '1 min ago';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(time).toLocaleDateString();
}

export function loss(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3);
}

/** A stage as the page names it. */
export function stageName(stage: string): string {
  return (STAGE_NAMES as Record<string, string>)[stage] ?? stage;
}

/** What a chart's caption says its points come from: the run's name and its stage (once, if the name has it). */
export function chartSource(run: { name: string; stage: string } | null | undefined): string {
  if (!run) return '';
  const stage = stageName(run.stage);
  return run.name.startsWith(stage) ? run.name : `${run.name} · ${stage}`;
}

/** An error as the page shows it. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An error's first line, for a panel's one-line error. */
export function firstLine(e: unknown): string {
  return messageOf(e).split('\n')[0];
}

/** A token as the page shows it: spaces and line breaks made visible. */
export function visible(text: string): string {
  return text === ' ' ? '·' : text === '\n' ? '↵' : text === '\t' ? '⇥' : text;
}

/** A probability as a percentage with the digits it needs. */
export function percent(p: number): string {
  const x = 100 * p;
  return x >= 10 ? `${x.toFixed(0)}%` : x >= 1 ? `${x.toFixed(1)}%` : x >= 0.01 ? `${x.toFixed(2)}%` : '<0.01%';
}
