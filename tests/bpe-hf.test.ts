import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { fromHfTokenizerJson, hfTokenizerFiles } from '../src/core/data/hf-tokenizer.ts';
import { renderChat } from '../src/core/post/chat.ts';
import type { CharTokenizer } from '../src/core/model/tokenizer.ts';

const read = (name: string) => readFileSync(new URL(`../corpora/${name}`, import.meta.url), 'utf8');

describe('the Hugging Face files', () => {
  let tok: BpeTokenizer;
  let files: ReturnType<typeof hfTokenizerFiles>;
  let hf: Tokenizer;

  beforeAll(() => {
    tok = BpeTokenizer.train(read('tales/train.txt'), 1024);
    files = hfTokenizerFiles(tok, 256);
    // Parsed from the file texts, as a reader of the files would.
    hf = new Tokenizer(JSON.parse(files['tokenizer.json']), JSON.parse(files['tokenizer_config.json']));
  });

  it('load in @huggingface/tokenizers and encode every line of the validation tales to the lab ids, and decode them back', () => {
    const lines = read('tales/val.txt').split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(500);
    for (const line of lines) {
      const ids = [...tok.encode(line)];
      const theirs = hf.encode(line, { add_special_tokens: false }).ids;
      if (theirs.length !== ids.length || theirs.some((id, i) => id !== ids[i])) expect(theirs, line).toEqual(ids);
      expect(hf.decode(ids)).toBe(line);
    }
    // Whole stories with their newlines, too.
    const text = read('tales/val.txt').slice(0, 20_000);
    expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual([...tok.encode(text)]);
  });

  it('give the lab ids for any text without specials: other scripts, emoji, numbers, runs of spaces', () => {
    const crawl = read('crawl/docs.jsonl').trimEnd().split('\n').slice(0, 300).map((l) => (JSON.parse(l) as { text: string }).text);
    for (const text of crawl) expect(hf.encode(text, { add_special_tokens: false }).ids, text.slice(0, 60)).toEqual([...tok.encode(text)]);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }).filter((s) => s.length > 0 && !s.includes('<|')), (s) => {
        expect(hf.encode(s, { add_special_tokens: false }).ids).toEqual([...tok.encode(s)]);
      }),
      { numRuns: 1000 },
    );
  });

  it('agree on long pieces too: runs of one character, a blob without spaces', () => {
    for (const text of ['a'.repeat(5000), ' ' + 'ab'.repeat(3000), '='.repeat(4097), 'the'.repeat(2000) + 'e']) {
      expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual([...tok.encode(text)]);
    }
  });

  it('keep the specials as added tokens, at the lab ids, and the chat template renders as the lab does', () => {
    const chat = '<|user|>What does Tom eat?<|end|><|assistant|>Tom eats carrots.<|end|>';
    const lab = renderChat(tok as unknown as CharTokenizer, [
      { role: 'user', content: 'What does Tom eat?' },
      { role: 'assistant', content: 'Tom eats carrots.' },
    ]).ids;
    expect(hf.encode(chat, { add_special_tokens: false }).ids).toEqual([...lab]);
    expect(hf.decode([...lab])).toBe(chat);
    const config = JSON.parse(files['tokenizer_config.json']);
    expect(config).toMatchObject({ eos_token: '<|end|>', unk_token: '<|unk|>', clean_up_tokenization_spaces: false, model_max_length: 256 });
    expect(config.chat_template).toContain('<|assistant|>');
  });

  it('read back into the same tokenizer, and a file that is not one is refused with what was expected', () => {
    const back = fromHfTokenizerJson(JSON.parse(files['tokenizer.json']));
    expect(back.toJSON()).toEqual(tok.toJSON());
    const json = JSON.parse(files['tokenizer.json']);
    expect(() => fromHfTokenizerJson({ hello: 'world' })).toThrow('tokenizer.json: not a Hugging Face tokenizer file (no "model")');
    expect(() => fromHfTokenizerJson({ ...json, model: { ...json.model, type: 'WordPiece' } })).toThrow(/the model is "WordPiece", not "BPE"/);
    expect(() => fromHfTokenizerJson({ ...json, pre_tokenizer: { type: 'Whitespace' } })).toThrow(/not ByteLevel/);
    const shuffled = { ...json.model.vocab, a: json.model.vocab.b, b: json.model.vocab.a };
    expect(() => fromHfTokenizerJson({ ...json, model: { ...json.model, vocab: shuffled } })).toThrow(/byte 97 \("a"\) has id 102, expected 101/);
    expect(() => fromHfTokenizerJson({ ...json, model: { ...json.model, merges: ['Ġ zzzz'] } })).toThrow(/merge 0 names a token that is not in the vocabulary/);
    expect(() => fromHfTokenizerJson({ ...json, model: { ...json.model, merges: json.model.merges.slice(0, -1) } })).toThrow(/the vocabulary has 1024 tokens but its merges make 1023/);
    expect(() => fromHfTokenizerJson({ ...json, model: { ...json.model, merges: json.model.merges.slice(1) } })).toThrow(/tokenizer.json: merge \d+ joins ids \d+ and \d+, but only ids/);
  });
});
