/**
 * Checkpoint files in and out of the tab: a stored checkpoint or the current model as a
 * .safetensors file (with or without the AdamW moments), and a received file checked completely,
 * shown as a card, and only then stored as the first checkpoint of a new run and loaded. A frozen
 * run that waits for a file (an RL run's KL reference) is offered each file first (its stage's
 * `rejoin`).
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { CheckpointError } from '../core/io/checkpoint.ts';
import { cardLines, exportCheckpoint, fileKind, inspectStateDict, prepareImport, type PreparedImport } from '../core/io/share.ts';
import type { CharTokenizerJSON } from '../core/model/tokenizer.ts';
import * as store from '../storage/index.ts';
import type { LabRunner } from './runner.ts';
import { fileNameOf, importedSettings, presetOf } from './runs.ts';
import { stageEntry } from './stages/registry.ts';
import type { ImportPreview } from './types.ts';

export class Transfer {
  readonly #lab: LabRunner;
  #pending: { prepared: PreparedImport; fileName: string } | null = null;

  constructor(lab: LabRunner) {
    this.#lab = lab;
  }

  /** A checkpoint's .safetensors file, to download; without the optimizer moments it is about a third the size. */
  async checkpointFile(id: string, includeOptimizer = true): Promise<{ bytes: Uint8Array; fileName: string }> {
    const db = this.#lab.db;
    const record = await store.loadCheckpoint(db, id);
    if (!record) throw new Error('That checkpoint no longer exists.');
    const run = await store.getRun(db, record.runId);
    return { bytes: exportCheckpoint(record.bytes, { includeOptimizer }), fileName: fileNameOf(run?.name, record.step, includeOptimizer) };
  }

  /** The current model as a .safetensors file, at the step it has reached. */
  currentFile(includeOptimizer = true): Promise<{ bytes: Uint8Array; fileName: string }> {
    return this.#lab.inspect(async ({ session, run }) => {
      if (!session) throw new Error('There is no model yet: press Pretrain or Step first.');
      const bytes = await session.toCheckpointBytes({ includeOptimizer });
      return { bytes, fileName: fileNameOf(run?.name, session.stepsTaken, includeOptimizer) };
    });
  }

  /**
   * Checks a received file completely and returns its card; nothing is stored until `accept`.
   * A plain nanoGPT state dict does not record its number of heads: without `nHead` the answer
   * lists the choices instead of a card.
   */
  async preview(bytes: Uint8Array, fileName: string, nHead?: number): Promise<ImportPreview | { headChoices: number[]; lines: string[] }> {
    this.#pending = null;
    if (fileKind(bytes) === 'nanogpt' && nHead === undefined) {
      const shape = inspectStateDict(bytes);
      return {
        headChoices: shape.headChoices,
        lines: [`nanoGPT state dict: vocab ${shape.vocabSize}, block ${shape.blockSize}, ${shape.nLayer} layers, C=${shape.nEmbd}`],
      };
    }
    const prepared = await prepareImport(bytes, { nHead, tokenizer: bundledVocabulary as CharTokenizerJSON, corpus: 'tales', sourceName: fileName });
    this.#pending = { prepared, fileName };
    const { summary } = prepared.card;
    return { fileName, kind: prepared.card.kind, lines: cardLines(prepared.card), step: summary.step, stage: summary.stage, sizeBytes: prepared.card.sizeBytes };
  }

  cancel(): void {
    this.#pending = null;
  }

  /** Stores the previewed file as the first checkpoint of a new run and loads it (or the frozen run it completes); no existing run is touched. */
  accept(): Promise<void> {
    const lab = this.#lab;
    return lab.command(async () => {
      const pending = this.#pending;
      if (!pending) throw new CheckpointError('There is no checked file to load: drop it again.');
      this.#pending = null;
      const db = lab.db;
      const { state, bytes } = pending.prepared;
      await lab.halt('paused');
      const run = await store.createRun(db, {
        name: `${pending.fileName} (imported at step ${state.step})`,
        stage: state.stage,
        preset: presetOf(state.model) ?? 'custom',
        settings: importedSettings(state) as unknown as Record<string, unknown>,
      });
      const last = state.metrics[state.metrics.length - 1];
      const copy = await store.saveCheckpoint(db, { runId: run.id, step: state.step, stage: state.stage, kind: 'import', summary: { trainLoss: last?.loss }, bytes });
      await lab.publish(state.stage);
      const waiting = lab.current;
      const rejoin = waiting?.stage.frozen ? stageEntry(waiting.run.stage)?.rejoin : undefined;
      if (rejoin && (await rejoin(lab, { name: pending.fileName, step: state.step }))) return;
      await lab.open(run, copy.id);
      const corpusNote = state.corpus === 'tales' || importedSettings(state).corpus === 'crawl' ? '' : ` It was trained on "${state.corpus}", which this tab does not have: training continues on the bundled tales.`;
      const then = lab.current?.stage.frozen ?? 'Resume continues training from there.';
      lab.notify({ notice: { level: 'info', text: `Loaded ${pending.fileName} into a new run at step ${state.step}. ${then}${corpusNote}` } });
    });
  }
}
