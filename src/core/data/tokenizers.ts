/**
 * The one place that turns a saved tokenizer back into one: checkpoints, shared files and the
 * worker all read `{"kind": "char" | "bpe", …}` through `tokenizerFromJSON`. And the rule for which
 * vocabularies a model can hold.
 */
import { BpeTokenizer, checkBpeVocabSize } from './bpe.ts';
import { countParameters, type GPTConfig, modelConfig, PRESETS, type PresetName } from '../model/config.ts';
import { CharTokenizer, type CharTokenizerJSON, SPECIAL_TOKENS, type BpeJSON, type TextTokenizer } from '../model/tokenizer.ts';

export type TokenizerKind = 'char' | 'bpe';

/** A tokenizer from its JSON; anything else is refused with what was expected. */
export function tokenizerFromJSON(json: unknown): TextTokenizer {
  const kind = typeof json === 'object' && json !== null ? (json as { kind?: unknown }).kind : undefined;
  if (kind === 'char') return CharTokenizer.fromJSON(json as CharTokenizerJSON);
  if (kind === 'bpe') return BpeTokenizer.fromJSON(json as BpeJSON);
  throw new Error(`tokenizer: expected {"kind":"char",…} or {"kind":"bpe",…}, got kind ${JSON.stringify(kind ?? null)}`);
}

export function tokenizerKind(tok: TextTokenizer): TokenizerKind {
  return tok instanceof BpeTokenizer ? 'bpe' : 'char';
}

/** "characters, 84 tokens" / "byte-level BPE, 1,024 tokens": what a student reads next to a run. */
export function describeTokenizer(tok: TextTokenizer): string {
  return `${tokenizerKind(tok) === 'bpe' ? 'byte-level BPE' : 'characters'}, ${tok.vocabSize.toLocaleString('en-US')} tokens`;
}

/**
 * The largest vocabulary a model of this shape holds: its token embedding (vocabSize × C, tied to
 * the LM head) may be at most as large as all its other parameters together. Past that the model is
 * mostly a lookup table: most rows would be seen too rarely in a lesson's steps to be learnt, and
 * the head's cost per token would outgrow the blocks'. For the presets: micro about 800, tiny about
 * 1,600, small about 6,300, medium about 14,000.
 */
export function maxVocabFor(config: Omit<GPTConfig, 'vocabSize'>): number {
  const others = countParameters({ ...config, vocabSize: 0 });
  return Math.floor(others / config.nEmbd);
}

/**
 * Refuses a tokenizer that the preset cannot use: a BPE vocabulary must hold the 256 bytes and the
 * chat specials, and no tokenizer may exceed maxVocabFor. The message names the presets that would fit.
 */
export function checkVocabForPreset(tok: TextTokenizer, preset: PresetName, overrides: Partial<GPTConfig> = {}): void {
  if (tokenizerKind(tok) === 'bpe') {
    const missing = SPECIAL_TOKENS.filter((t) => !tok.specials.includes(t));
    // The later stages render chats with them; without them SFT would fail long after pretraining.
    if (missing.length) throw new Error(`the tokenizer has no ${missing.join(', ')}: the chat stages need the special tokens (the tokenizer command adds them)`);
    checkBpeVocabSize(tok.vocabSize, tok.specials.length);
  }
  const most = maxVocabFor(modelConfig(preset, tok.vocabSize, overrides));
  if (tok.vocabSize <= most) return;
  const fits = (Object.keys(PRESETS) as PresetName[]).filter((p) => tok.vocabSize <= maxVocabFor(modelConfig(p, tok.vocabSize)));
  throw new Error(
    `a vocabulary of ${tok.vocabSize.toLocaleString('en-US')} tokens is too large for the ${preset} preset, which holds at most ${most.toLocaleString('en-US')} ` +
      `(its embedding table may not outweigh the rest of the model)` + (fits.length ? `; use ${fits.join(' or ')}, or a smaller vocabulary` : '; use a smaller vocabulary'),
  );
}

/** The least vocabulary a BPE tokenizer may have: the 256 bytes and the chat specials. */
export const MIN_BPE_VOCAB = 256 + SPECIAL_TOKENS.length;
