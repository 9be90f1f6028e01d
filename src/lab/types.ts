/**
 * What crosses the boundary between the page and the training worker: plain data only.
 *
 * The page imports this file (and only types from api.ts), never tfjs: every tensor lives in the
 * worker. Metrics travel as plain rows, batched per log interval.
 */
import type { LabEvent } from '../core/io/checkpoint.ts';
import type { PresetName } from '../core/model/config.ts';
import type { TokenizerJSON } from '../core/model/tokenizer.ts';
import type { ProbedToken, TokenChoice } from '../core/inspect/probed.ts';
import type { SampleRow } from '../core/rl/policy.ts';
import type { RecoveryPolicy } from '../core/spikes/spikelab.ts';

export type { LabEvent, ProbedToken, RecoveryPolicy, SampleRow, TokenChoice };

export type BackendPreference = 'auto' | 'webgpu' | 'wasm' | 'cpu';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

export interface BackendInfo {
  backend: string; // 'webgpu' | 'wasm' | 'cpu'
  preference: BackendPreference;
  reason: string; // why this backend: the adapter found, or why a faster one was not available
  adapter?: AdapterInfo;
  /** wasm only: whether it runs with threads (needs a cross-origin isolated page). */
  threads?: boolean;
  /** wasm without threads: why ("page not cross-origin isolated"). */
  noThreads?: string;
  /** wasm only: workers that share each training step's rows, the training worker included (1: it alone). */
  workers?: number;
  /** The page is cross-origin isolated, so wasm may use threads. */
  crossOriginIsolated: boolean;
  /** `auto`: tokens/s of each backend on `measuredPreset` (null: did not start), and whether remembered. */
  measurements?: { backend: string; tokensPerSec: number | null; note?: string }[];
  measuredPreset?: string;
  remembered?: boolean;
  /** WebGPU's training steps checked against WebAssembly's: whether they agree, and by how much. */
  agreement?: { agree: boolean; summary: string; preset: string };
  /** A first visit: wasm now, while the page times the backends in another worker (then switches only if WebGPU is faster). */
  measureAlongside?: boolean;
}

/** The bundled tales, the bundled crawl (through the Data view's filters), or text the student brought. */
export type CorpusChoice = 'tales' | 'crawl' | 'own';

/** Everything that defines a pretraining run; round-trips through the URL hash. */
export interface RunSettings {
  corpus: CorpusChoice;
  /** With the crawl: the curation steps it goes through ("default", "none" for the raw crawl, or a list), as the Data view chose. */
  filters?: string;
  preset: PresetName;
  steps: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  autosaveEvery: number; // steps between autosaves
  keepAutosaves: number; // autosaves kept per run (pinned ones are kept as well)
  // The loss-spike lab (absent on a plain run): see src/lab/spikes.ts.
  policy?: RecoveryPolicy; // what the run does when the detector flags a step (default 'none')
  inject?: string; // scheduled injections, comma separated: 'microwavegang@30x2,lr-spike@60x30'
  spikeWarmup?: number; // steps before the detector trusts a z-score (default 64); its window is twice this
  qkLayerNorm?: boolean; // LayerNorm on queries and keys (no longer plain nanoGPT)
  zLoss?: boolean; // PaLM's z-loss, coefficient 1e-4
  /** The tokenizer the Data view trained, when the student chose it for pretraining (absent: characters). */
  tokenizer?: TokenizerJSON;
}

/** The student's own text file, sent along with the settings when corpus is 'own'. */
export interface OwnText {
  name: string;
  text: string;
}

export type LabStatus =
  | 'starting' // the worker is loading tfjs and choosing a backend
  | 'idle' // no run loaded
  | 'loading' // preparing a run: reading the corpus, building the model, restoring a checkpoint
  | 'running'
  | 'paused' // a run is loaded and can continue
  | 'stopped' // like paused, after a checkpoint was saved on request
  | 'done' // the run took all its steps
  | 'error';

export interface RunInfo {
  id: string;
  name: string;
  stage: 'pretrain' | 'sft' | 'dpo' | 'rm' | 'rl'; // what the run trains: a base model, or a later stage from a parent checkpoint
  settings: RunSettings;
  corpusName: string; // 'tales' or the file name of the student's text
  step: number; // steps taken
  totalSteps: number;
  restoredFrom?: { step: number; savedAt: number }; // set when the run was restored from storage
  /** Why the run cannot train on in this tab (an RL file whose KL reference is not here): it samples, scores and exports. */
  frozen?: string;
}

export interface RunSummary {
  parameters: number;
  tokensSeen: number;
  tokensPerParameter: number;
  elapsedSeconds: number; // training time, across reloads
  backend: string;
  gradClip: number;
  vocabSize: number;
  /** Which tokenizer, as a student reads it ("byte-level BPE, 1,024 tokens"). */
  tokenizer: string;
  /** The latest validation loss in bits per character (comparable across tokenizers); null before the first. */
  valBitsPerChar: number | null;
  /** Share of this loop's time spent writing live samples (the first line left out); 0 when none. */
  liveShare: number;
  /** Workers that shared the latest step: the training worker and its helpers (data parallelism). */
  workers: number;
}

/** One logged step as the charts receive it. */
export interface MetricRow {
  step: number;
  [name: string]: number;
}

export interface CheckpointInfo {
  id: string;
  runId: string;
  step: number;
  kind: 'auto' | 'manual' | 'import';
  pinned: boolean;
  createdAt: number;
  sizeBytes: number;
  trainLoss?: number;
  valLoss?: number;
}

export interface Notice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/**
 * One message from the worker. Fields are present only when they changed. `rows` are appended to
 * the charts, unless `resetRows` is set, in which case they replace them (a run was loaded).
 */
export interface LabUpdate {
  status?: LabStatus;
  run?: RunInfo | null;
  rows?: MetricRow[];
  resetRows?: boolean;
  summary?: RunSummary | null;
  checkpoints?: CheckpointInfo[];
  notice?: Notice | null;
  /** Spike-lab events (injections, spikes, skips, rollbacks, LR changes); appended, replaced with resetRows. */
  events?: LabEvent[];
  /** The loaded run's spike lab: its policy and the injections still to come. */
  spikeLab?: SpikeLabInfo | null;
  /** Lines sampled while pretraining (src/lab/live.ts): appended. */
  live?: LiveLine[];
  /**
   * The loaded RL run's latest sampled completions (the first of each prompt, with rewards): sent
   * with the rows of the step that drew them and when an RL run is loaded. Replaced; cleared by
   * `resetRows` unless the same update carries new ones.
   */
  rlSamples?: SampleRow[];
  /** The stored reward models, newest first: sent at start-up and whenever a reward model is saved. */
  rewardModels?: RewardModelInfo[];
}

/** A line written while pretraining: the prompt and what followed, each written token with its probability. */
export interface LiveLine {
  step: number;
  /** The prompt and the continuation, as one text. */
  text: string;
  prompt: string;
  tokens: ProbedToken[];
}

/** A stored reward model to choose from. */
export interface RewardModelInfo {
  checkpointId: string;
  runId: string;
  name: string;
  step: number;
  heldOutAccuracy?: number;
}

export interface SpikeLabInfo {
  policy: RecoveryPolicy;
  scheduled: string[]; // e.g. 'microwavegang@30x2'
  warmup: number;
  window: number;
  zThreshold: number;
}

/** A received checkpoint file, checked by the worker, as the import card shows it (plain text). */
export interface ImportPreview {
  fileName: string;
  kind: 'lmlab' | 'nanogpt';
  lines: string[];
  step: number;
  stage: string;
  sizeBytes: number;
}

/** One run's loss curve for the comparison chart. */
export interface CompareCurve {
  runId: string;
  name: string;
  policy: RecoveryPolicy;
  current: boolean;
  points: { x: number; y: number }[];
}

export interface SampleOptions {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number; // 0 = no limit
  seed: number;
}
