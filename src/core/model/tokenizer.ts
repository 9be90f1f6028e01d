/**
 * Character-level tokenizer. The vocabulary is the sorted set of characters of the corpus, after a
 * few reserved special tokens that the chat stages need. Specials are never produced by encoding
 * plain text: a corpus that happens to contain "<|user|>" is still just characters.
 */

export const SPECIAL_TOKENS = ['<|unk|>', '<|user|>', '<|assistant|>', '<|end|>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export interface CharTokenizerJSON {
  kind: 'char';
  specials: string[];
  chars: string[];
}

export interface BpeJSON {
  kind: 'bpe';
  specials: string[];
  /** Pairs of ids, in the order learnt; merge i makes token specials + 256 + i (or names an equal one). */
  merges: [number, number][];
}

/** A tokenizer as checkpoints carry it; `kind` says which class reads it (data/tokenizers.ts). */
export type TokenizerJSON = CharTokenizerJSON | BpeJSON;

/**
 * What the stages need of a tokenizer, which CharTokenizer and BpeTokenizer (data/bpe.ts) both
 * provide, so code typed against this takes either. Both put the specials first, at ids 0..n-1.
 */
export interface TextTokenizer {
  readonly specials: readonly string[];
  readonly vocabSize: number;
  specialId(token: SpecialToken): number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  tokenText(id: number): string;
  unknownChars(text: string): string[];
  toJSON(): TokenizerJSON;
}

export class CharTokenizer implements TextTokenizer {
  readonly specials: readonly string[];
  readonly chars: readonly string[];
  private readonly charToId = new Map<string, number>();

  constructor(chars: readonly string[], specials: readonly string[] = SPECIAL_TOKENS) {
    this.specials = specials;
    this.chars = chars;
    chars.forEach((ch, i) => this.charToId.set(ch, specials.length + i));
  }

  /** Builds the vocabulary from text. Iterates by code point so astral characters stay whole. */
  static fromText(text: string): CharTokenizer {
    const set = new Set<string>();
    for (const ch of text) set.add(ch);
    return new CharTokenizer([...set].sort());
  }

  static fromJSON(json: CharTokenizerJSON): CharTokenizer {
    if (json?.kind !== 'char' || !Array.isArray(json.chars) || !Array.isArray(json.specials)) {
      throw new Error('tokenizer: expected {"kind":"char","specials":[...],"chars":[...]}');
    }
    if (json.chars.some((c) => typeof c !== 'string' || [...c].length !== 1)) {
      throw new Error('tokenizer: every entry of "chars" must be a single character');
    }
    if (new Set(json.chars).size !== json.chars.length) throw new Error('tokenizer: "chars" has duplicates');
    return new CharTokenizer(json.chars, json.specials.map(String));
  }

  toJSON(): CharTokenizerJSON {
    return { kind: 'char', specials: [...this.specials], chars: [...this.chars] };
  }

  get vocabSize(): number {
    return this.specials.length + this.chars.length;
  }

  specialId(token: SpecialToken): number {
    const id = this.specials.indexOf(token);
    if (id < 0) throw new Error(`tokenizer: no special token ${token}`);
    return id;
  }

  /** Characters outside the vocabulary become <|unk|>; see `unknownChars` to warn about them. */
  encode(text: string): Int32Array {
    const unk = this.specials.indexOf('<|unk|>');
    const ids: number[] = [];
    for (const ch of text) ids.push(this.charToId.get(ch) ?? unk);
    return Int32Array.from(ids);
  }

  decode(ids: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) out += this.tokenText(ids[i]);
    return out;
  }

  tokenText(id: number): string {
    if (id < this.specials.length) return this.specials[id] ?? '';
    return this.chars[id - this.specials.length] ?? '';
  }

  unknownChars(text: string): string[] {
    const unknown = new Set<string>();
    for (const ch of text) if (!this.charToId.has(ch)) unknown.add(ch);
    return [...unknown];
  }
}
