/** The page's views in the URL hash, and what a chart's caption says it shows. */
import { describe, expect, test } from 'vitest';
import { chartSource } from '../src/ui/format.ts';
import { defaultSettings, lessonFromHash, lessonHash, settingsFromHash, VIEWS, viewFromHash } from '../src/ui/settings.ts';

describe('views in the URL hash', () => {
  test('#view= names one of the pipeline bar views, in pipeline order; anything else is no view', () => {
    expect(VIEWS).toEqual(['data', 'pretrain', 'sft', 'dpo', 'rm', 'rl', 'spikes', 'scaling', 'inside', 'class', 'share']);
    expect(viewFromHash('#preset=micro&view=sft')).toBe('sft');
    expect(viewFromHash('#view=rl')).toBe('rl');
    expect(viewFromHash('#preset=micro')).toBeNull();
    expect(viewFromHash('#view=sideways')).toBeNull();
    expect(viewFromHash('')).toBeNull();
  });

  test('the view rides along with the settings and the lesson, and each reads back unchanged', () => {
    const s = { ...defaultSettings('micro'), steps: 40, seed: 9 };
    const lesson = { hide: ['teacher' as const], lock: ['settings' as const] };
    const hash = lessonHash(s, lesson, 'spikes');
    expect(hash).toMatch(/&view=spikes$/);
    expect(viewFromHash(hash)).toBe('spikes');
    expect(settingsFromHash(hash)).toEqual(s);
    expect(lessonFromHash(hash)).toEqual(lesson);
    expect(lessonHash(s, { hide: [], lock: [] })).not.toContain('view=');
  });
});

describe('chart captions', () => {
  test('the run and its stage, the stage once when the run is named after it', () => {
    expect(chartSource({ name: 'tales · micro · seed 1', stage: 'pretrain' })).toBe('tales · micro · seed 1 · pretraining');
    expect(chartSource({ name: 'SFT · tales · micro · seed 4', stage: 'sft' })).toBe('SFT · tales · micro · seed 4');
    expect(chartSource({ name: 'DPO β 0.1 · tales', stage: 'dpo' })).toBe('DPO β 0.1 · tales');
    expect(chartSource({ name: 'x.safetensors (imported at step 10)', stage: 'dpo' })).toBe('x.safetensors (imported at step 10) · DPO');
    expect(chartSource(null)).toBe('');
  });
});
