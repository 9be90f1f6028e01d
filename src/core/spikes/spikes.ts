/**
 * Loss and gradient-norm spike detection, after OLMo-core's spike skipping (`SkipStepOptimizer`:
 * keep the last 128 losses and gradient norms, and skip the update when the new value sits more
 * than 6 standard deviations above their mean, once at least half the window is filled).
 *
 * The naive formula, for x the loss or the gradient norm of the current step and x_1..x_k the
 * accepted values of the last k = window steps:
 *
 *     z = (x - mean(x_1..x_k)) / std(x_1..x_k)        spike  <=>  z > zThreshold
 *
 * Only upward spikes count: a loss that drops by 10σ is good news, not a reason to skip.
 * A NaN or infinite loss or gradient norm is always a spike, even before the window is warm.
 *
 * Everything here is plain numbers: the trainer reads the loss and gradient norm to JS (at the
 * step it wants to check), calls `detectSpike`, then `observe`, and decides whether to apply the
 * update. The windows serialise to number arrays so a checkpoint can carry them.
 */

export interface SpikeConfig {
  /** How many accepted steps the running mean and std look back over (OLMo-core: 128). */
  window: number;
  /** Accepted values needed before a z-score is trusted (OLMo-core: half the window). */
  warmup: number;
  /** Standard deviations above the mean that count as a spike (OLMo-core: 6). */
  zThreshold: number;
}

export const DEFAULT_SPIKE_CONFIG: SpikeConfig = { window: 128, warmup: 64, zThreshold: 6 };

// A perfectly flat window has std 0 and would make any rise an infinite z. The floor is a small
// fraction of the mean, so it only matters when the window is (nearly) constant; the absolute term
// covers a mean of 0.
const STD_FLOOR_RELATIVE = 1e-3;
const STD_FLOOR_ABSOLUTE = 1e-8;

/** A fixed-size ring buffer of the last `capacity` accepted values, with their mean and std. */
export class RunningWindow {
  readonly capacity: number;
  private values: number[] = [];
  private next = 0; // where the next value goes once the buffer is full (the oldest value)

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new Error(`RunningWindow capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Rebuild a window from `toArray()` output; only the newest `capacity` values are kept. */
  static fromArray(capacity: number, values: readonly number[]): RunningWindow {
    const w = new RunningWindow(capacity);
    for (const v of values.slice(-capacity)) w.push(v);
    return w;
  }

  get size(): number {
    return this.values.length;
  }

  push(value: number): void {
    // A NaN would poison the mean forever after; spikes are never pushed, so this is a caller bug.
    if (!Number.isFinite(value)) throw new Error(`RunningWindow only holds finite values, got ${value}`);
    if (this.values.length < this.capacity) {
      this.values.push(value);
    } else {
      this.values[this.next] = value;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** The values oldest first, as plain numbers (what a checkpoint stores). */
  toArray(): number[] {
    return [...this.values.slice(this.next), ...this.values.slice(0, this.next)];
  }

  mean(): number {
    if (this.values.length === 0) return NaN;
    let sum = 0;
    for (const v of this.values) sum += v;
    return sum / this.values.length;
  }

  /** Population standard deviation (divide by k); two passes, so no catastrophic cancellation. */
  std(): number {
    const m = this.mean();
    if (this.values.length === 0) return NaN;
    let ss = 0;
    for (const v of this.values) ss += (v - m) * (v - m);
    return Math.sqrt(ss / this.values.length);
  }
}

export interface SpikeHistory {
  loss: RunningWindow;
  gradNorm: RunningWindow;
}

export interface StepValues {
  loss: number;
  gradNorm: number;
}

export interface SpikeResult {
  spike: boolean;
  /** Why: 'nan' for a non-finite value, else the first of loss / grad-norm over the threshold. */
  reason: 'nan' | 'loss' | 'grad-norm' | null;
  /** z-scores against the window; 0 while warming up or when the value is not finite. */
  lossZ: number;
  gradNormZ: number;
}

export function createSpikeHistory(config: SpikeConfig = DEFAULT_SPIKE_CONFIG): SpikeHistory {
  return { loss: new RunningWindow(config.window), gradNorm: new RunningWindow(config.window) };
}

/** z = (x - mean) / max(std, floor), or 0 if the window has fewer than `warmup` values. */
export function zScore(window: RunningWindow, x: number, warmup: number): number {
  if (!Number.isFinite(x) || window.size === 0 || window.size < warmup) return 0;
  const mean = window.mean();
  const std = Math.max(window.std(), STD_FLOOR_RELATIVE * Math.abs(mean), STD_FLOOR_ABSOLUTE);
  return (x - mean) / std;
}

/**
 * Is this step's loss or gradient norm a spike against the recent history?
 * Pure: it does not touch the history. Call `observe` afterwards to record accepted values.
 */
export function detectSpike(
  history: SpikeHistory,
  value: StepValues,
  config: SpikeConfig = DEFAULT_SPIKE_CONFIG,
): SpikeResult {
  const lossZ = zScore(history.loss, value.loss, config.warmup);
  const gradNormZ = zScore(history.gradNorm, value.gradNorm, config.warmup);
  let reason: SpikeResult['reason'] = null;
  if (!Number.isFinite(value.loss) || !Number.isFinite(value.gradNorm)) reason = 'nan';
  else if (lossZ > config.zThreshold) reason = 'loss';
  else if (gradNormZ > config.zThreshold) reason = 'grad-norm';
  return { spike: reason !== null, reason, lossZ, gradNormZ };
}

/**
 * Record a step in the history, but only if it was not a spike. Keeping spikes out of the window
 * is what lets a run of bad batches stay visible: if they were added, the mean and std would rise
 * to meet them and the next bad batch would no longer look unusual.
 * Returns whether the values were added.
 */
export function observe(history: SpikeHistory, value: StepValues, result: SpikeResult): boolean {
  if (result.spike) return false;
  history.loss.push(value.loss);
  history.gradNorm.push(value.gradNorm);
  return true;
}

/** The history as plain arrays (oldest first), for checkpoint metadata. */
export function serializeSpikeHistory(history: SpikeHistory): { loss: number[]; gradNorm: number[] } {
  return { loss: history.loss.toArray(), gradNorm: history.gradNorm.toArray() };
}

export function restoreSpikeHistory(
  saved: { loss: readonly number[]; gradNorm: readonly number[] },
  config: SpikeConfig = DEFAULT_SPIKE_CONFIG,
): SpikeHistory {
  return {
    loss: RunningWindow.fromArray(config.window, saved.loss),
    gradNorm: RunningWindow.fromArray(config.window, saved.gradNorm),
  };
}
