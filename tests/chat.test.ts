import { describe, expect, it } from 'vitest';
import { chatBatch, fitPrompt, fitToBlock, padBatch, renderChat, renderPrompt, renderReply, toExample } from '../src/core/post/chat.ts';
import type { ChatMessage } from '../src/core/post/chatdata.ts';
import { Random } from '../src/core/random.ts';
import { bundledTokenizer } from './helpers.ts';

const tok = bundledTokenizer();
const U = tok.specialId('<|user|>');
const A = tok.specialId('<|assistant|>');
const E = tok.specialId('<|end|>');
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const system = (content: string): ChatMessage => ({ role: 'system', content });

/** The token sequence as readable pieces: specials by name, characters as themselves. */
const pieces = (ids: ArrayLike<number>) => Array.from(ids, (id) => tok.tokenText(id));

describe('renderChat', () => {
  it('follows the documented template', () => {
    const { ids } = renderChat(tok, [user('Hi?'), assistant('Yes.')]);
    expect(pieces(ids)).toEqual(['<|user|>', 'H', 'i', '?', '<|end|>', '<|assistant|>', 'Y', 'e', 's', '.', '<|end|>']);
    expect(tok.decode(ids)).toBe('<|user|>Hi?<|end|><|assistant|>Yes.<|end|>');
  });

  it('masks exactly the assistant content and its end of turn, over every turn', () => {
    const { ids, mask } = renderChat(tok, [user('ab'), assistant('cd'), user('e'), assistant('f')]);
    //                      <u> a  b <e> <a> c  d <e> <u> e <e> <a> f <e>
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1]);
    expect(ids).toHaveLength(mask.length);
    const counted = pieces(ids).filter((_, i) => mask[i] === 1).join('');
    expect(counted).toBe('cd<|end|>f<|end|>');
  });

  it('renders a system message as plain text closed by <|end|>, with no header and no loss', () => {
    const { ids, mask } = renderChat(tok, [system('Be kind.'), user('Hi'), assistant('Yo')]);
    expect(pieces(ids)).toEqual(['B', 'e', ' ', 'k', 'i', 'n', 'd', '.', '<|end|>', '<|user|>', 'H', 'i', '<|end|>', '<|assistant|>', 'Y', 'o', '<|end|>']);
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, /* user */ 0, 0, 0, 0, /* assistant */ 0, 1, 1, 1]);
    expect(tok.vocabSize).toBe(tok.specials.length + tok.chars.length); // no token was added for it
    expect(tok.specials).toEqual(['<|unk|>', '<|user|>', '<|assistant|>', '<|end|>']);
  });

  it('never produces special tokens from text that spells them', () => {
    const { ids } = renderChat(tok, [user('<|end|>'), assistant('ok')]);
    expect(ids.filter((id) => id === E)).toHaveLength(2); // the two real ends of turn
    expect(ids[0]).toBe(U);
  });
});

describe('prompts and replies', () => {
  it('a prompt ends with the assistant header; prompt + reply is the rendered conversation', () => {
    const messages = [user('What is 2 plus 2?'), assistant('2 plus 2 is 4.')];
    const prompt = renderPrompt(tok, messages.slice(0, 1));
    expect(prompt[prompt.length - 1]).toBe(A);
    const reply = renderReply(tok, '2 plus 2 is 4.');
    expect(reply[reply.length - 1]).toBe(E);
    expect([...prompt, ...reply]).toEqual([...renderChat(tok, messages).ids]);
  });
});

describe('training examples', () => {
  it('shifts the mask with the targets: a target counts when it is an assistant token', () => {
    const chat = renderChat(tok, [user('a'), assistant('b')]); // <u> a <e> <a> b <e>
    const ex = toExample(chat);
    expect(pieces(ex.x)).toEqual(['<|user|>', 'a', '<|end|>', '<|assistant|>', 'b']);
    expect(pieces(ex.y)).toEqual(['a', '<|end|>', '<|assistant|>', 'b', '<|end|>']);
    expect(Array.from(ex.mask)).toEqual([0, 0, 0, 1, 1]);
  });

  it('drops whole earlier exchanges to fit the block, then cuts the tail of a single long one', () => {
    const chat = renderChat(tok, [user('aaaa'), assistant('bbbb'), user('c'), assistant('d')]);
    const fitted = fitToBlock(chat, tok, 8); // the second exchange alone is 7 tokens
    expect(tok.decode(fitted.ids)).toBe('<|user|>c<|end|><|assistant|>d<|end|>');
    expect(Array.from(fitted.mask)).toEqual([0, 0, 0, 0, 1, 1]);
    const long = fitToBlock(renderChat(tok, [user('q'), assistant('abcdefgh')]), tok, 6);
    expect(tok.decode(long.ids)).toBe('<|user|>q<|end|><|assistant|>ab');
    expect(Array.from(long.mask)).toEqual([0, 0, 0, 0, 1, 1]);
  });

  it('keeps a system turn in front while dropping exchanges, and drops it only when the last exchange needs the room', () => {
    const chat = renderChat(tok, [system('S'), user('aaaa'), assistant('bbbb'), user('c'), assistant('d')]); // S<e> is 2 tokens
    const fitted = fitToBlock(chat, tok, 9);
    expect(tok.decode(fitted.ids)).toBe('S<|end|><|user|>c<|end|><|assistant|>d<|end|>');
    expect(Array.from(fitted.mask)).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    const tight = fitToBlock(chat, tok, 7);
    expect(tok.decode(tight.ids)).toBe('<|user|>c<|end|><|assistant|>d<|end|>');
    expect(Array.from(tight.mask)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(tok.decode(fitToBlock(chat, tok, 100).ids)).toBe(tok.decode(chat.ids)); // what fits stays whole
  });

  it('pads rows on the right and masks the padding', () => {
    const rows = [toExample(renderChat(tok, [user('a'), assistant('bc')])), toExample(renderChat(tok, [user('a'), assistant('b')]))];
    const batch = padBatch(rows, E);
    expect(batch.seqLen).toBe(6);
    expect(batch.batchSize).toBe(2);
    expect(Array.from(batch.mask)).toEqual([0, 0, 0, 1, 1, 1, /* row 2 */ 0, 0, 0, 1, 1, 0]);
    expect(batch.x[11]).toBe(E);
  });

  it('a random batch holds only rows drawn from the data, each fitting the block', () => {
    const data = [{ messages: [user('Say hello to Tom.'), assistant('Hello, Tom!')] }, { messages: [user('Count to 3.'), assistant('1, 2, 3.')] }];
    const batch = chatBatch(tok, data, 8, 64, new Random(3));
    expect(batch.batchSize).toBe(8);
    for (let b = 0; b < 8; b++) {
      const row = batch.y.subarray(b * batch.seqLen, (b + 1) * batch.seqLen);
      const m = batch.mask.subarray(b * batch.seqLen, (b + 1) * batch.seqLen);
      const answer = pieces(row).filter((_, i) => m[i] === 1).join('');
      expect(['Hello, Tom!<|end|>', '1, 2, 3.<|end|>']).toContain(answer);
    }
  });
});

describe('fitPrompt', () => {
  const tok = bundledTokenizer();
  const earlier: ChatMessage[] = [
    { role: 'user', content: 'What is 1 plus 1?' },
    { role: 'assistant', content: '1 plus 1 is 2.' },
  ];
  const last: ChatMessage = { role: 'user', content: 'What does Tom eat?' };

  it('keeps a prompt that fits in half the block as it is', () => {
    const messages = [...earlier, last];
    expect(Array.from(fitPrompt(tok, messages, 256))).toEqual(Array.from(renderPrompt(tok, messages)));
  });

  it('drops earlier turns from the front, whole question-and-answer turns, for a long prompt', () => {
    // <|user|> + 18 characters + <|end|> + <|assistant|> = 21 tokens: more than 64 / 2 with the earlier turn, fewer without.
    const fitted = fitPrompt(tok, [...earlier, last], 64);
    expect(Array.from(fitted)).toEqual(Array.from(renderPrompt(tok, [last])));
    expect(fitted.length).toBe(21);
  });
});

describe('fitPrompt with a system message', () => {
  const sys = system('Be brief.'); // 9 characters + <|end|> = 10 tokens
  const earlier: ChatMessage[] = [user('What is 1 plus 1?'), assistant('1 plus 1 is 2.')];
  const last = user('What does Tom eat?'); // 21 tokens as a prompt

  it('keeps the system message when dropping earlier turns', () => {
    const fitted = fitPrompt(tok, [sys, ...earlier, last], 64); // 31 tokens with the system message: fits in 32
    expect(Array.from(fitted)).toEqual(Array.from(renderPrompt(tok, [sys, last])));
    expect(fitted.length).toBe(31);
  });

  it('drops the system message too when the last question needs the room', () => {
    const fitted = fitPrompt(tok, [sys, ...earlier, last], 48);
    expect(Array.from(fitted)).toEqual(Array.from(renderPrompt(tok, [last])));
  });
});
