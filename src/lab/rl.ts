/** The RL stages' types under the path the page imports them from; they live in stages/rl.ts, stages/rm.ts and types.ts. */
export type { RewardSource } from '../core/rl/policy.ts';
export type { VerifiableCard } from '../core/rl/evaluate.ts';
export type { RlCurve, RlRunSettings } from './stages/rl.ts';
export type { RmSettings } from './stages/rm.ts';
export type { RewardModelInfo, SampleRow } from './types.ts';
