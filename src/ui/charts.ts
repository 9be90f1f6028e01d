/**
 * Chart.js, registered once with only what the lab draws: line charts on linear or log axes,
 * decimation for long runs, annotations for thresholds and events, and stacked bars of counts.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartDataset,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  type Scale,
  Ticks,
  Tooltip,
} from 'chart.js';
import annotationPlugin, { type AnnotationOptions } from 'chartjs-plugin-annotation';
import type { Point } from './series.ts';

Chart.register(BarController, BarElement, CategoryScale, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend, Decimation, annotationPlugin);
Chart.defaults.font.size = 13;
Chart.defaults.color = '#374151';

export { Chart };
/** A line of {x, y} points; `inLegend: false` keeps it out of the legend (the faint per-step line under a smoothed one). */
export type LineDataset = ChartDataset<'line', Point[]> & { inLegend?: boolean };
export type Annotations = Record<string, AnnotationOptions>;

/** A metric logged every step: a thin line without points. */
export const LINE = { pointRadius: 0, borderWidth: 1.8, tension: 0 } as const;
/** A metric measured now and then (held-out evaluations): points, not joined. */
export const DOTS = { showLine: false, pointRadius: 3.5, pointStyle: 'rectRot' } as const;
/** Horizontal reference lines: zero, and chance for an accuracy over pairs. */
export const ZERO_LINE: Annotations = { zero: { type: 'line', yMin: 0, yMax: 0, borderColor: '#9ca3af', borderWidth: 1 } };
export const CHANCE_LINE: Annotations = {
  chance: { type: 'line', yMin: 0.5, yMax: 0.5, borderColor: '#9ca3af', borderWidth: 1, borderDash: [4, 4], label: { display: true, content: 'chance', position: 'end', font: { size: 11 } } },
};

/** A line chart of {x: step, y} points that stays smooth with 50,000+ points. */
/**
 * An axis label as Chart.js writes it, but FLOPs and token counts in powers of ten ("2e11", not
 * "200,000,000,000"); a log axis keeps its own choice of which ticks get a label.
 */
function tickLabel(this: Scale, value: number | string, index: number, ticks: { value: number }[]): string {
  const v = Number(value);
  const formatter = this.type === 'logarithmic' ? Ticks.formatters.logarithmic : Ticks.formatters.numeric;
  const label = formatter.call(this, v, index, ticks);
  return label !== '' && Math.abs(v) >= 1e5 ? v.toExponential(0).replace('+', '') : String(label);
}

export function lineChartConfig(yTitle: string, xTitle = 'step'): ChartConfiguration<'line', Point[]> {
  return {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false, // points are already {x, y}: required for decimation, and faster
      normalized: true, // x is sorted and unique
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle }, ticks: { maxTicksLimit: 8, callback: tickLabel, ...(xTitle === 'step' ? { precision: 0 } : {}) } },
        y: { type: 'linear', title: { display: true, text: yTitle }, ticks: { maxTicksLimit: 6, callback: tickLabel } },
      },
      plugins: {
        // min-max keeps every spike visible, which a teacher's injected batch depends on.
        decimation: { enabled: true, algorithm: 'min-max' },
        legend: {
          display: true,
          position: 'top',
          align: 'end',
          labels: { boxWidth: 14, boxHeight: 3, filter: (item, data) => (data.datasets[item.datasetIndex ?? 0] as LineDataset | undefined)?.inLegend !== false },
        },
        tooltip: { callbacks: { title: (items) => `${xTitle} ${items[0]?.parsed.x ?? ''}` } },
        annotation: { annotations: {} },
      },
    },
  };
}

/** Horizontal stacked bars: one bar per category (a filter), one stack segment per dataset (a label). */
export function stackedBarConfig(xTitle: string): ChartConfiguration<'bar', number[], string> {
  return {
    type: 'bar',
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      indexAxis: 'y',
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, title: { display: true, text: xTitle }, ticks: { precision: 0 } },
        y: { stacked: true },
      },
      plugins: { legend: { display: true, position: 'top', align: 'end', labels: { boxWidth: 12, boxHeight: 12 } }, annotation: { annotations: {} } },
    },
  };
}

/**
 * Chart redraws, one chart per task. A new step changes every chart on the page at once, and
 * redrawing them all in one task held the main thread for 250–650 ms on a busy 2-core machine with
 * software WebGPU (a profile of the Pretrain click: Chart.js's update, ~50 ms a chart there).
 * Queued, each chart redraws in a task of its own, so input and painting get in between; a chart
 * queued again before its turn redraws once, with its latest data.
 */
interface Redrawable {
  update(mode: 'none'): void;
}
const queued = new Set<Redrawable>();
let draining = false;
// A message, not setTimeout: nested timeouts are clamped to 4 ms, and messages are not.
const channel = typeof MessageChannel === 'undefined' ? null : new MessageChannel();
const nextTask = (run: () => void) => {
  if (!channel) return void setTimeout(run, 0);
  channel.port1.onmessage = run;
  channel.port2.postMessage(null);
};

function redrawOne(): void {
  const [chart] = queued;
  if (!chart) {
    draining = false;
    return;
  }
  queued.delete(chart);
  nextTask(redrawOne); // first: a chart that throws must not stop the others' redraws
  try {
    chart.update('none');
  } catch (e) {
    console.error('a chart failed to redraw', e);
  }
}

/** Redraws the chart in a task of its own, soon. */
export function queueRedraw(chart: Redrawable): void {
  queued.add(chart);
  if (draining) return;
  draining = true;
  nextTask(redrawOne);
}

/** Forgets a queued redraw (the chart is being destroyed). */
export function cancelRedraw(chart: Redrawable): void {
  queued.delete(chart);
}
