/**
 * The Scaling view's chart series, as pure functions of the points and their fit: loss against
 * parameters with each budget's parabola and minimum, and the optima against compute with their
 * power laws and the lesson's own run beside them.
 */
import { isTrusted } from '../../../core/scaling/fit.ts';
import type { SweepResult, SweepSummary } from '../../../core/scaling/points.ts';
import { DOTS, LINE, type LineDataset } from '../../charts.ts';

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];
export const budgetLabel = (b: number): string => `${b.toExponential(0).replace('e+', 'e')} FLOPs`;

/** Samples of y = f(x) at `n` points spaced evenly in log x. */
function logSamples(lo: number, hi: number, n: number, f: (x: number) => number): { x: number; y: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const x = Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1));
    return { x, y: f(x) };
  });
}

/** Per budget: its points, its parabola in ln N across their range, its minimum (when there is one). */
export function lossCurves(points: readonly SweepResult[], summary: SweepSummary | null, embeddings: boolean): LineDataset[] {
  const budgets = [...new Set(points.map((p) => p.budget))].sort((a, b) => a - b);
  return budgets.flatMap((budget, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const at = points.filter((p) => p.budget === budget).map((p) => ({ x: embeddings ? p.params : p.nonEmbeddingParams, y: p.valLoss })).sort((a, b) => a.x - b.x);
    const sets: LineDataset[] = [{ ...DOTS, label: budgetLabel(budget), data: at, borderColor: colour, backgroundColor: colour }];
    const fit = summary?.fits.find((f) => f.budget === budget);
    if (fit && at.length >= 3) {
      const { a, b, c } = fit.parabola;
      sets.push({ ...LINE, label: `${budgetLabel(budget)} fit`, inLegend: false, data: logSamples(at[0].x, at[at.length - 1].x, 40, (x) => a * Math.log(x) ** 2 + b * Math.log(x) + c), borderColor: colour, borderDash: [5, 4] });
      if (isTrusted(fit)) {
        const x = fit.optimalParams;
        sets.push({ ...DOTS, label: `${budgetLabel(budget)} minimum`, inLegend: false, data: [{ x, y: a * Math.log(x) ** 2 + b * Math.log(x) + c }], pointStyle: 'star', pointRadius: 9, borderColor: colour, backgroundColor: colour, borderWidth: 2 });
      }
    }
    return sets;
  });
}

/** N_opt and D_opt against C, their power laws, and the lesson's run as a reference. */
export function optimumCurves(summary: SweepSummary | null, lesson: { budget: number; params: number; tokens: number }): LineDataset[] {
  const trusted = summary?.fits.filter(isTrusted) ?? [];
  const sets: LineDataset[] = [
    { ...DOTS, label: `N_opt${summary?.exponents ? ` ∝ C^${summary.exponents.params.toFixed(2)}` : ''}`, data: trusted.map((f) => ({ x: f.budget, y: f.optimalParams })), borderColor: '#2563eb', backgroundColor: '#2563eb' },
    { ...DOTS, label: `D_opt${summary?.exponents ? ` ∝ C^${summary.exponents.tokens.toFixed(2)}` : ''}`, data: trusted.map((f) => ({ x: f.budget, y: f.optimalTokens })), borderColor: '#dc2626', backgroundColor: '#dc2626' },
    { ...DOTS, label: 'the lesson (its N and D)', data: [{ x: lesson.budget, y: lesson.params }], pointStyle: 'triangle', pointRadius: 7, borderColor: '#111827', backgroundColor: '#f59e0b' },
    { ...DOTS, label: 'lesson tokens', inLegend: false, data: [{ x: lesson.budget, y: lesson.tokens }], pointStyle: 'triangle', pointRadius: 7, borderColor: '#111827', backgroundColor: '#f59e0b' },
  ];
  if (summary?.exponents && trusted.length >= 2) {
    const lo = trusted[0].budget;
    const hi = Math.max(trusted[trusted.length - 1].budget, lesson.budget);
    const line = (key: 'optimalParams' | 'optimalTokens', exponent: number, colour: string) => {
      // The least-squares line in log–log passes through the mean of (ln C, ln y): its intercept is that mean's.
      const mean = Math.exp(trusted.reduce((s, f) => s + Math.log(f[key] / f.budget ** exponent), 0) / trusted.length);
      return { ...LINE, label: `${key} law`, inLegend: false, data: logSamples(lo, hi, 20, (x) => mean * x ** exponent), borderColor: colour, borderDash: [5, 4] } as LineDataset;
    };
    sets.push(line('optimalParams', summary.exponents.params, '#2563eb'), line('optimalTokens', summary.exponents.tokens, '#dc2626'));
  }
  return sets;
}
