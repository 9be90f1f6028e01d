/**
 * Chart.js, registered once with only what the lab draws: line charts on linear or log axes,
 * decimation for long runs, and annotations for thresholds and events.
 */
import {
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
  Tooltip,
} from 'chart.js';
import annotationPlugin, { type AnnotationOptions } from 'chartjs-plugin-annotation';
import type { Point } from './series.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend, Decimation, annotationPlugin);
Chart.defaults.font.size = 13;
Chart.defaults.color = '#374151';

export { Chart };
export type LineDataset = ChartDataset<'line', Point[]>;
export type Annotations = Record<string, AnnotationOptions>;

/** A line chart of {x: step, y} points that stays smooth with 50,000+ points. */
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
        x: { type: 'linear', title: { display: true, text: xTitle }, ticks: { maxTicksLimit: 8, ...(xTitle === 'step' ? { precision: 0 } : {}) } },
        y: { type: 'linear', title: { display: true, text: yTitle }, ticks: { maxTicksLimit: 6 } },
      },
      plugins: {
        // min-max keeps every spike visible, which a teacher's injected batch depends on.
        decimation: { enabled: true, algorithm: 'min-max' },
        legend: { display: true, position: 'top', align: 'end', labels: { boxWidth: 14, boxHeight: 3 } },
        tooltip: { callbacks: { title: (items) => `${xTitle} ${items[0]?.parsed.x ?? ''}` } },
        annotation: { annotations: {} },
      },
    },
  };
}
