/**
 * Spike-lab events as chart annotations: injections and skips as vertical lines, detected spikes
 * as rings on the curve, rollbacks and LR cuts as shaded spans. Events carry 0-based steps; the
 * charts plot a step's values after it (x = step + 1), so the marks do too.
 */
import type { Annotations } from './charts.ts';
import type { LabEvent } from '../lab/types.ts';

export const EVENT_COLOURS: Record<string, string> = {
  inject: '#dc2626',
  spike: '#b91c1c',
  skip: '#6b7280',
  rollback: '#0f766e',
  'lower-lr': '#15803d',
  'lr-restored': '#15803d',
  filter: '#7c3aed',
};

/** What an injection was, in a few characters: "M ×2", "random", "LR ×30". */
export function injectionLabel(e: LabEvent): string {
  if (e.kind === 'lr-spike') return `LR ×${e.factor}`;
  const what = e.kind === 'microwavegang' ? 'MMMM' : 'random bytes';
  return typeof e.of === 'number' && e.of > 1 ? `${what} ${e.batch}/${e.of}` : what;
}

/**
 * Annotations for the loss chart (`metric` 'loss') or the gradient-norm chart ('gradNorm').
 * Only the loss chart carries text labels; the gradient-norm chart repeats the marks without them.
 */
export function spikeAnnotations(events: readonly LabEvent[], metric: 'loss' | 'gradNorm'): Annotations {
  const notes: Annotations = {};
  const labels = metric === 'loss';
  events.forEach((e, i) => {
    const x = e.step + 1;
    const id = `${e.event}-${e.step}-${i}`;
    const colour = EVENT_COLOURS[e.event] ?? '#374151';
    const line = (text: string, dash: number[] = [], position: 'start' | 'end' = 'start') => ({
      type: 'line' as const,
      xMin: x,
      xMax: x,
      borderColor: colour,
      borderWidth: 2,
      borderDash: dash,
      label: { display: labels, content: text, position, backgroundColor: colour, color: '#fff', font: { size: 11 }, padding: 3 },
    });
    switch (e.event) {
      case 'inject':
        // A multi-batch injection is marked once, at its first batch.
        if (typeof e.batch !== 'number' || e.batch === 1) notes[id] = line(injectionLabel(e), [], 'start');
        break;
      case 'spike': {
        const y = Number(metric === 'loss' ? e.loss : e.gradNorm);
        if (Number.isFinite(y)) notes[id] = { type: 'point', xValue: x, yValue: y, radius: 7, borderColor: colour, borderWidth: 3, backgroundColor: 'rgba(0,0,0,0)' };
        break;
      }
      case 'skip':
        notes[id] = line('skipped', [4, 3], 'end');
        break;
      case 'rollback':
        notes[id] = {
          type: 'box',
          xMin: Number(e.to) + 1,
          xMax: x,
          backgroundColor: 'rgba(15, 118, 110, 0.12)',
          borderWidth: 0,
          label: { display: labels, content: `rolled back to step ${e.to}`, position: { x: 'center', y: 'start' }, color: colour, font: { size: 11 } },
        };
        break;
      case 'lower-lr':
        notes[id] = {
          type: 'box',
          xMin: x,
          xMax: Number(e.until) + 1,
          backgroundColor: 'rgba(21, 128, 61, 0.08)',
          borderWidth: 0,
          label: { display: labels, content: `LR ×${e.scale}`, position: { x: 'start', y: 'end' }, color: colour, font: { size: 11 } },
        };
        break;
      case 'filter':
        notes[id] = line(`filtered ${e.removed}`, [2, 2], 'end');
        break;
      default:
        break;
    }
  });
  return notes;
}
