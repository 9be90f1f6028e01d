/**
 * Learning-rate schedules, as small pure functions of the step (after nanoGPT's `get_lr`).
 *
 * cosine (nanoGPT):
 *   1) warmup:  lr = maxLr · (step + 1) / warmupSteps            for step < warmupSteps
 *   2) after:   lr = minLr                                        for step > totalSteps
 *   3) decay:   lr = minLr + ½(1 + cos(π·r)) · (maxLr − minLr),   r = (step − warmup) / (total − warmup)
 *
 * wsd (warmup–stable–decay, from MiniCPM): the same warmup, then maxLr
 * held flat, then a straight line down to minLr over the final `decayFraction` of the steps. The
 * flat stretch means a run can be extended without knowing its length in advance: only the decay
 * has to be redone.
 *
 * Either schedule can end with an annealing phase: over the last `anneal.steps` steps the rate goes
 * linearly from wherever the schedule was to `anneal.lr`, and stays there afterwards.
 */

export interface ScheduleConfig {
  kind: 'cosine' | 'wsd';
  maxLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** wsd: final fraction of totalSteps spent decaying to minLr (default 0.2). */
  decayFraction?: number;
  /** Optional final annealing phase: the last `steps` steps decay linearly to `lr`. */
  anneal?: { steps: number; lr: number };
}

export function learningRate(step: number, cfg: ScheduleConfig): number {
  if (cfg.anneal && cfg.anneal.steps > 0) {
    const annealStart = cfg.totalSteps - cfg.anneal.steps;
    if (step >= annealStart) {
      const from = baseRate(annealStart, cfg);
      const t = Math.min(1, (step - annealStart) / cfg.anneal.steps);
      return from + t * (cfg.anneal.lr - from);
    }
  }
  return baseRate(step, cfg);
}

function baseRate(step: number, cfg: ScheduleConfig): number {
  return cfg.kind === 'cosine' ? cosineRate(step, cfg) : wsdRate(step, cfg);
}

function cosineRate(step: number, cfg: ScheduleConfig): number {
  const { maxLr, minLr, warmupSteps, totalSteps } = cfg;
  // 1) linear warmup for warmupSteps steps (step + 1, so step 0 already moves the weights)
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  // 2) after totalSteps, hold minLr
  if (step > totalSteps || totalSteps <= warmupSteps) return minLr;
  // 3) in between, cosine decay from maxLr down to minLr
  const ratio = (step - warmupSteps) / (totalSteps - warmupSteps); // 0 → 1
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio)); // 1 → 0
  return minLr + coeff * (maxLr - minLr);
}

function wsdRate(step: number, cfg: ScheduleConfig): number {
  const { maxLr, minLr, warmupSteps, totalSteps } = cfg;
  const decaySteps = Math.round((cfg.decayFraction ?? 0.2) * totalSteps);
  const decayStart = Math.max(warmupSteps, totalSteps - decaySteps);
  // 1) linear warmup, as for cosine
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  // 2) stable at maxLr until the decay begins
  if (step < decayStart) return maxLr;
  // 3) after totalSteps, hold minLr
  if (step >= totalSteps) return minLr;
  // 4) linear decay from maxLr at decayStart to minLr at totalSteps
  const ratio = (step - decayStart) / (totalSteps - decayStart);
  return maxLr + ratio * (minLr - maxLr);
}

/**
 * The rules that size a schedule to a run, in one place (every stage, the page and the command
 * line use these through the stage recipes in src/core/lesson/recipes.ts):
 *   floor     a tenth of the peak rate (nanoGPT's min_lr = learning_rate / 10)
 *   warm-up   a tenth of the steps, at least 1 and at most 100
 *   interval  the run's steps split into `evaluations` validation losses, at least 10 steps apart
 *             (each costs a few batches of forward passes); a run always evaluates at its last step
 */
export const floorRate = (peak: number): number => peak / 10;
export const warmupFor = (steps: number): number => Math.min(100, Math.max(1, Math.floor(steps / 10)));
export const evalIntervalFor = (steps: number, evaluations = 20): number => Math.max(10, Math.floor(steps / evaluations));
