/**
 * The lab's BPE tokenizer in Hugging Face's format: `tokenizer.json` (the `tokenizers` library's
 * serialisation: a BPE model with its vocabulary and ranked merges, GPT-2's ByteLevel pre-tokenizer
 * and decoder, the specials as added tokens) and `tokenizer_config.json` (what `transformers` and
 * `@huggingface/tokenizers` read besides: the special tokens' roles, the chat template, and
 * `clean_up_tokenization_spaces: false`, without which decoding would remove the space in " .").
 *
 * Token strings are GPT-2's byte-to-unicode spelling of each token's bytes ("Ġthe" for " the"); the
 * ids are the lab's own, so a model exported with these files reads the same ids it was trained on.
 * One difference is Hugging Face's and on purpose: its encoder turns a special's text found in the
 * input ("<|end|>") into the special, where the lab's `encode` keeps plain text plain; for text
 * without specials the ids are identical (tests/hf-tokenizer.test.ts checks).
 */
import { BpeTokenizer, BYTE_TO_UNICODE } from './bpe.ts';

export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } as const;

export interface HfTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: null;
  pre_tokenizer: typeof BYTE_LEVEL;
  post_processor: null;
  decoder: typeof BYTE_LEVEL;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Record<string, number>;
    merges: string[];
  };
}

export type HfTokenizerConfig = Record<string, unknown>;

const added = (id: number, content: string): HfAddedToken => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/**
 * The lab's chat template (src/core/post/chat.ts) in Jinja: a header special per user or assistant
 * turn, none for a system turn, every turn closed by <|end|>, no spaces or newlines added.
 */
export const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}<|user|>{% elif message['role'] == 'assistant' %}<|assistant|>{% endif %}" +
  "{{ message['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

/** tokenizer.json as an object. */
export function hfTokenizerJson(tok: BpeTokenizer): HfTokenizerJson {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) vocab[tok.tokenSymbol(id)] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tok.specials.map((s, id) => added(id, s)),
    normalizer: null,
    pre_tokenizer: BYTE_LEVEL,
    post_processor: null,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: tok.merges.map(([a, b]) => `${tok.tokenSymbol(a)} ${tok.tokenSymbol(b)}`),
    },
  };
}

/** tokenizer_config.json as an object; `modelMaxLength` is the model's context (block size). */
export function hfTokenizerConfig(tok: BpeTokenizer, modelMaxLength?: number): HfTokenizerConfig {
  const has = (s: string) => tok.specials.includes(s);
  const config: HfTokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(tok.specials.map((s, id) => {
      const { id: _, ...rest } = added(id, s);
      return [String(id), rest];
    })),
  };
  if (modelMaxLength !== undefined) config.model_max_length = modelMaxLength;
  if (has('<|unk|>')) config.unk_token = '<|unk|>';
  if (has('<|end|>')) config.eos_token = config.pad_token = '<|end|>';
  config.additional_special_tokens = tok.specials.filter((s) => s !== '<|unk|>' && s !== '<|end|>');
  if (has('<|user|>') && has('<|assistant|>') && has('<|end|>')) config.chat_template = CHAT_TEMPLATE;
  return config;
}

/** The two files' texts, as Hugging Face writes them (two-space indented JSON). */
export function hfTokenizerFiles(tok: BpeTokenizer, modelMaxLength?: number): { 'tokenizer.json': string; 'tokenizer_config.json': string } {
  return {
    'tokenizer.json': JSON.stringify(hfTokenizerJson(tok), null, 2) + '\n',
    'tokenizer_config.json': JSON.stringify(hfTokenizerConfig(tok, modelMaxLength), null, 2) + '\n',
  };
}

/**
 * Reads a tokenizer.json back into the lab's tokenizer. Only the layout the lab writes is accepted
 * (specials first, then the 256 bytes in order, then one id per merge); anything else is refused
 * with what was expected, so a wrong file fails on loading rather than by training on other ids.
 */
export function fromHfTokenizerJson(json: unknown): BpeTokenizer {
  const bad = (why: string): never => {
    throw new Error(`tokenizer.json: ${why}`);
  };
  const t = json as Partial<HfTokenizerJson> | null;
  if (typeof t !== 'object' || t === null || typeof t.model !== 'object' || t.model === null) bad('not a Hugging Face tokenizer file (no "model")');
  if (t!.model!.type !== 'BPE') bad(`the model is ${JSON.stringify(t!.model!.type)}, not "BPE"`);
  if (t!.pre_tokenizer?.type !== 'ByteLevel') bad('the pre-tokenizer is not ByteLevel, so this is not a byte-level BPE tokenizer');
  const { vocab, merges } = t!.model!;
  if (typeof vocab !== 'object' || vocab === null || !Array.isArray(merges)) bad('the model has no "vocab" object or no "merges" list');
  const specials = (t!.added_tokens ?? []).slice().sort((a, b) => a.id - b.id);
  specials.forEach((s, i) => s.id !== i && bad(`added token ${JSON.stringify(s.content)} has id ${s.id}; the lab puts its specials first, at 0 to ${specials.length - 1}`));
  const base = specials.length;
  BYTE_TO_UNICODE.forEach((ch, b) => vocab[ch] !== base + b && bad(`byte ${b} ("${ch}") has id ${vocab[ch]}, expected ${base + b}: not a vocabulary this lab wrote`));
  const pairs = merges.map((m, i) => {
    const parts = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(parts) || parts.length !== 2) return bad(`merge ${i} is not a pair: ${JSON.stringify(m)}`);
    const [a, b] = parts.map((p: string) => vocab[p]);
    if (a === undefined || b === undefined) return bad(`merge ${i} names a token that is not in the vocabulary: ${JSON.stringify(m)}`);
    return [a, b] as [number, number];
  });
  let tok: BpeTokenizer;
  try {
    tok = new BpeTokenizer(pairs, specials.map((s) => s.content));
  } catch (e) {
    return bad((e as Error).message.replace(/^bpe: /, ''));
  }
  if (tok.vocabSize !== Object.keys(vocab).length) bad(`the vocabulary has ${Object.keys(vocab).length} tokens but its merges make ${tok.vocabSize}`);
  for (let id = base; id < tok.vocabSize; id++) if (vocab[tok.tokenSymbol(id)] !== id) bad(`token ${JSON.stringify(tok.tokenSymbol(id))} has id ${vocab[tok.tokenSymbol(id)]}, but its merge makes it ${id}`);
  return tok;
}
