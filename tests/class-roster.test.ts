/**
 * The class table (src/core/class/roster.ts): a row per checkpoint file with hand-checkable
 * figures, the outlier rules on hand-made metric rows, hostile files refused, and CSV a spreadsheet
 * reads safely.
 */
import { describe, expect, it } from 'vitest';
import type { MetricRow } from '../src/core/io/checkpoint.ts';
import { bitsPerChar, classCsv, flagsOf, isRefused, readClassFile, recoveredFrom } from '../src/core/class/roster.ts';
import { countParameters } from '../src/core/model/config.ts';
import { LabSession } from '../src/core/train/session.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const rows = (losses: number[], extra: (i: number) => Record<string, number> = () => ({})): MetricRow[] => losses.map((loss, step) => ({ step, loss, ...extra(step) }));

describe('class rows from real files', () => {
  it('reads a base and an SFT file: student, lineage, steps, the base\'s tokens per parameter, bits per character', { timeout: 60_000 }, async () => {
    await useBackend('cpu');
    const { corpus, tokenizer } = tinyCorpus();
    const base = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 3, evalInterval: 3, batchSize: 2 } });
    base.student = 'Ada (group 3)';
    while (!base.done) await base.step();
    const baseBytes = await base.toCheckpointBytes();
    const conversation = { messages: [{ role: 'user' as const, content: 'hi' }, { role: 'assistant' as const, content: 'hello' }] };
    const sft = await SftStage.start(baseBytes, { train: [conversation], val: [conversation] }, corpus, { steps: 2, evalInterval: 2, batchSize: 4 });
    while (!sft.done) await sft.step();
    const sftBytes = await sft.session.toCheckpointBytes();

    const b = await readClassFile('ada-base.safetensors', baseBytes);
    const s = await readClassFile('ada-sft.safetensors', sftBytes);
    if (isRefused(b) || isRefused(s)) throw new Error('refused a good file');
    const params = countParameters(base.model.config);
    const baseTokens = 3 * 2 * base.model.config.blockSize; // 3 steps × batch 2 × context
    expect(b).toMatchObject({ student: 'Ada (group 3)', stage: 'pretrain', lineage: 'base 3', steps: 3, parameters: params, spikes: 0, flags: [] });
    expect(b.tokensPerParameter).toBeCloseTo(baseTokens / params, 12);
    expect(b.bitsPerChar).toBeCloseTo(b.valLoss! / Math.LN2, 12);
    // The SFT file inherits the name, and reports its base's pretraining, not its own batch of 4.
    expect(s).toMatchObject({ student: 'Ada (group 3)', stage: 'sft', lineage: 'base 3 → SFT 2', steps: 2 });
    expect(s.tokensPerParameter).toBeCloseTo(baseTokens / params, 12);
    expect(s.headline?.name).toBe('held-out chat loss');
    expect(s.curve.map((p) => p.step)).toEqual([0, 1]);
    base.dispose();
    sft.release();
  });

  it('refuses a file that is not a checkpoint, with the Share view\'s reason', async () => {
    const r = await readClassFile('notes.txt', new TextEncoder().encode('not a model'));
    expect(isRefused(r)).toBe(true);
    expect((r as { reason: string }).reason).toMatch(/safetensors/);
  });
});

describe('outlier rules', () => {
  it('diverged: a NaN at the end, or an end well above the best (smoothed); RL only on a NaN', () => {
    expect(flagsOf('pretrain', rows([3, 2, 1.5, 1.2, 1, 1, 1, 1, 1, 1]), 0)).toEqual([]);
    expect(flagsOf('pretrain', rows([3, 2, 1, 1, 1, 1, 1, 1, 1, NaN]), 0)).toEqual(['diverged']);
    expect(flagsOf('pretrain', rows([3, 2, 1, 1, 1, 1, 2, 3, 4, 5]), 0)).toEqual(['diverged']);
    expect(flagsOf('rl', rows([-0.1, 0.2, -0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]), 0)).toEqual([]);
    expect(flagsOf('dpo', rows([0.69, 0.01, 0.002, 0.001, 0.002, 0.003, 0.004, 0.002, 0.003, 0.004]), 0)).toEqual([]); // twice a tiny loss is no divergence
  });

  it('a spike counts as recovered once the loss is back within 5% of the 20 steps before it', () => {
    const recovering = rows([...Array(30).fill(2), 9, 4, 2.09]);
    const stuck = rows([...Array(30).fill(2), 9, 4, 2.2]);
    expect(recoveredFrom(recovering, { step: 30, event: 'spike' })).toBe(true);
    expect(recoveredFrom(stuck, { step: 30, event: 'spike' })).toBe(false);
    expect(flagsOf('pretrain', stuck, 1)).toContain('spike unrecovered');
  });

  it('DPO collapsed: the chosen replies\' log-likelihood fell by more than 5 nats', () => {
    const falling = (end: number) => rows([0.69, 0.6, 0.5, 0.4], (i) => ({ 'logps/chosen': -0.3 + ((end + 0.3) * i) / 3 }));
    expect(flagsOf('dpo', falling(-85), 0)).toEqual(['DPO collapsed']); // the length-bias what-if's end
    expect(flagsOf('dpo', falling(-0.4), 0)).toEqual([]); // the lesson's DPO
    expect(flagsOf('dpo', falling(-5.2), 0)).toEqual([]);
  });

  it('bits per character: nats per token ÷ ln 2 ÷ characters per token', () => {
    expect(bitsPerChar(Math.LN2, 1)).toBe(1);
    expect(bitsPerChar(2 * Math.LN2, 2)).toBe(1);
    expect(bitsPerChar(1, null)).toBeNull();
  });
});

describe('CSV', () => {
  it('quotes commas and quotes, defuses formulas, and lists refused files with their reason', () => {
    const row = { file: 'a.safetensors', student: '=HYPERLINK("x"), "Bo"', stage: 'sft' as const, lineage: 'base 3 → SFT 2', steps: 2, parameters: 100, tokensPerParameter: 1 / 3, valLoss: 1.5, bitsPerChar: 1.5 / Math.LN2, headline: { name: 'held-out chat loss', value: 2 }, spikes: 0, recovered: 0, flags: [], curve: [] };
    const csv = classCsv([row], [{ file: 'b.txt', reason: 'not a valid .safetensors file: too short' }]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('file,student,stage,lineage,steps,parameters,tokensPerParameter,valLoss,bitsPerChar,headline,headlineValue,spikes,recovered,flags,refused');
    expect(lines[1]).toBe(`a.safetensors,"'=HYPERLINK(""x""), ""Bo""",sft,base 3 → SFT 2,2,100,0.333333,1.5,2.16404,held-out chat loss,2,0,0,,`);
    expect(lines[2]).toBe('b.txt,,,,,,,,,,,,,,not a valid .safetensors file: too short');
  });
});
