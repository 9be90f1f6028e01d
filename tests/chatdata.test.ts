import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDpoJsonl, parsePromptJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { ROOT } from './helpers.ts';

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });
const system = (content: string) => ({ role: 'system', content });
const line = (value: unknown) => JSON.stringify(value);

describe('parseSftJsonl', () => {
  const good = line({ messages: [user('What does Tom eat?'), assistant('Tom eats carrots.')] });

  it('reads good lines and ignores blank ones', () => {
    const text = [good, '', '   ', line({ messages: [user('a'), assistant('b'), user('c'), assistant('d')] }), ''].join('\n');
    const { examples, errors } = parseSftJsonl(text);
    expect(errors).toEqual([]);
    expect(examples).toHaveLength(2);
    expect(examples[0].messages[1]).toEqual({ role: 'assistant', content: 'Tom eats carrots.' });
    expect(examples[1].messages).toHaveLength(4);
  });

  it('reports each bad line by its 1-based number and keeps the good ones', () => {
    const text = [
      good, // 1
      '{"messages": [', // 2: bad JSON
      '', // 3: blank, ignored
      line({ turns: [] }), // 4: wrong shape
      line({ messages: [user('Hi'), assistant('')] }), // 5: empty content
      line({ messages: [user('Hi'), { role: 'tool', content: 'x' }] }), // 6: unknown role
      line({ messages: [user('Hi'), assistant('Hello!'), user('And?')] }), // 7: ends with the user
      line([1, 2]), // 8: not an object
      line({ messages: [] }), // 9: no messages
      line({ messages: [assistant('Hello!')] }), // 10: starts with the assistant
      line({ messages: [user('Hi'), { role: 'assistant', content: 7 }] }), // 11: content not a string
      good, // 12
    ].join('\n');
    const { examples, errors } = parseSftJsonl(text);
    expect(examples).toHaveLength(2);
    expect(errors.map((e) => e.line)).toEqual([2, 4, 5, 6, 7, 8, 9, 10, 11]);
    const at = (n: number) => errors.find((e) => e.line === n)!.message;
    expect(at(2)).toMatch(/not valid JSON/);
    expect(at(4)).toMatch(/expected "messages", or "prompt" and "completion"/);
    expect(at(5)).toMatch(/messages\[1\] content is empty/);
    expect(at(6)).toMatch(/unknown role "tool"/);
    expect(at(7)).toMatch(/must end with an assistant turn/);
    expect(at(8)).toMatch(/expected an object/);
    expect(at(9)).toMatch(/"messages" is empty/);
    expect(at(10)).toMatch(/must start with a user turn/);
    expect(at(11)).toMatch(/content must be a string/);
    for (const e of errors) expect(e.message).not.toContain('\n');
  });

  it('counts lines the same in files with Windows line ends', () => {
    const { examples, errors } = parseSftJsonl([good, 'oops', good].join('\r\n'));
    expect(examples).toHaveLength(2);
    expect(errors).toEqual([{ line: 2, message: expect.stringMatching(/not valid JSON/) }]);
  });
});

describe('parseDpoJsonl', () => {
  const pair = (over: object = {}) =>
    line({ prompt: [user('What is 3 plus 4?')], chosen: '3 plus 4 is 7.', rejected: '3 plus 4 is 8.', kind: 'correct', ...over });

  it('reads good lines, with or without a kind', () => {
    const { examples, errors } = parseDpoJsonl([pair(), line({ prompt: [user('Hi')], chosen: 'Hello!', rejected: 'Go away.' })].join('\n'));
    expect(errors).toEqual([]);
    expect(examples[0]).toEqual({ prompt: [{ role: 'user', content: 'What is 3 plus 4?' }], chosen: '3 plus 4 is 7.', rejected: '3 plus 4 is 8.', kind: 'correct' });
    expect(examples[1].kind).toBeUndefined();
  });

  it('reports each bad line by its 1-based number and keeps the good ones', () => {
    const text = [
      pair(), // 1
      '', // 2: blank
      'not json at all', // 3
      pair({ chosen: undefined }), // 4: missing chosen
      pair({ rejected: '  ' }), // 5: empty rejected
      pair({ rejected: '3 plus 4 is 7.' }), // 6: identical
      pair({ prompt: [user('Hi'), assistant('Hello!')] }), // 7: prompt ends with the assistant
      pair({ prompt: 42 }), // 8: prompt neither a string nor messages
      pair({ prompt: [{ role: 'robot', content: 'beep' }] }), // 9: unknown role
      pair({ kind: '' }), // 10: empty kind
      pair(), // 11
    ].join('\n');
    const { examples, errors } = parseDpoJsonl(text);
    expect(examples).toHaveLength(2);
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    const at = (n: number) => errors.find((e) => e.line === n)!.message;
    expect(at(3)).toMatch(/not valid JSON/);
    expect(at(4)).toMatch(/"chosen" must be a string/);
    expect(at(5)).toMatch(/"rejected" is empty/);
    expect(at(6)).toMatch(/identical/);
    expect(at(7)).toMatch(/prompt must end with a user turn/);
    expect(at(8)).toMatch(/"prompt" must be a string or an array of messages/);
    expect(at(9)).toMatch(/unknown role "robot"/);
    expect(at(10)).toMatch(/"kind" is empty/);
  });
});

// TRL's dataset formats (huggingface.co/docs/trl/dataset_formats), one hand-written line of each.
describe("TRL's formats for SFT", () => {
  it('reads conversational, standard and conversational prompt-completion lines, system messages and text parts', () => {
    const text = [
      line({ messages: [system('Answer briefly.'), user('Hi'), assistant('Hello!')] }),
      line({ prompt: 'What does Tom eat?', completion: 'Tom eats carrots.' }),
      line({ prompt: [system('Be kind.'), user('Hi')], completion: [assistant('Hello!')] }),
      line({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Say ' }, { type: 'text', text: 'hi.' }] }, assistant('hi.')] }),
      line({ id: 7, source: 'hub', messages: [user('a'), { role: 'assistant', content: 'b', name: 'bot' }] }), // extra fields
    ].join('\n');
    const { examples, errors } = parseSftJsonl('\uFEFF' + text); // a byte-order mark in front
    expect(errors).toEqual([]);
    expect(examples).toEqual([
      { messages: [system('Answer briefly.'), user('Hi'), assistant('Hello!')] },
      { messages: [user('What does Tom eat?'), assistant('Tom eats carrots.')] },
      { messages: [system('Be kind.'), user('Hi'), assistant('Hello!')] },
      { messages: [user('Say hi.'), assistant('hi.')] },
      { messages: [user('a'), assistant('b')] },
    ]);
  });

  it('reports malformed lines of those formats by line number', () => {
    const text = [
      line({ text: 'Once upon a time.' }), // 1: language modelling, not chat
      line({ prompt: 'Hi' }), // 2: no completion
      line({ prompt: 'Hi', completion: '' }), // 3: empty completion
      line({ prompt: [user('Hi')], completion: [user('Hello')] }), // 4: completion from the user
      line({ prompt: [user('Hi'), assistant('Yes')], completion: 'No' }), // 5: prompt ends with the assistant
      line({ messages: [user('Hi'), system('late'), assistant('Yo')] }), // 6: system not first
      line({ messages: [system('Only this.')] }), // 7: no user turn
      line({ messages: [{ role: 'user', content: [{ type: 'image' }] }, assistant('A cat.')] }), // 8: a part that is not text
      line({ prompt: 'ok', completion: 'fine' }), // 9: good
    ].join('\n');
    const { examples, errors } = parseSftJsonl(text);
    expect(examples).toHaveLength(1);
    expect(errors.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const at = (n: number) => errors.find((e) => e.line === n)!.message;
    expect(at(1)).toMatch(/"text" is plain language-modelling text .* use it as pretraining text/);
    expect(at(2)).toMatch(/"completion" must be a string or an array of messages/);
    expect(at(3)).toMatch(/"completion" is empty/);
    expect(at(4)).toMatch(/completion must start with an assistant turn/);
    expect(at(5)).toMatch(/prompt must end with a user turn/);
    expect(at(6)).toMatch(/messages\[1\] is a system message; only the first message may be one/);
    expect(at(7)).toMatch(/must start with a user turn/);
    expect(at(8)).toMatch(/messages\[0\] content has parts other than/);
    for (const e of errors) expect(e.message).not.toContain('\n');
  });
});

describe("TRL's formats for preferences", () => {
  it('reads standard, conversational and implicit-prompt pairs', () => {
    const text = [
      line({ prompt: 'What is 1 plus 1?', chosen: '2.', rejected: '3.' }),
      line({ prompt: [system('Be exact.'), user('What is 1 plus 1?')], chosen: [assistant('2.')], rejected: [assistant('3.')] }),
      line({ chosen: [user('What is 1 plus 1?'), assistant('2.')], rejected: [user('What is 1 plus 1?'), assistant('3.')] }),
      line({ chosen: [system('S'), user('a'), assistant('b'), user('c'), assistant('d')], rejected: [system('S'), user('a'), assistant('b'), user('c'), assistant('e')], score: 0.9 }),
      line({ prompt: 'Hi', chosen: [assistant('Hello!')], rejected: 'Go away.', kind: 'polite' }),
      line({ prompt: 'Hi', chosen: [user('Hi'), assistant('Hello!')], rejected: [user('Hi'), assistant('Go away.')] }), // the prompt repeated in both
    ].join('\n');
    const { examples, errors } = parseDpoJsonl(text);
    expect(errors).toEqual([]);
    const q = [user('What is 1 plus 1?')];
    expect(examples).toEqual([
      { prompt: q, chosen: '2.', rejected: '3.' },
      { prompt: [system('Be exact.'), ...q], chosen: '2.', rejected: '3.' },
      { prompt: q, chosen: '2.', rejected: '3.' },
      { prompt: [system('S'), user('a'), assistant('b'), user('c')], chosen: 'd', rejected: 'e' },
      { prompt: [user('Hi')], chosen: 'Hello!', rejected: 'Go away.', kind: 'polite' },
      { prompt: [user('Hi')], chosen: 'Hello!', rejected: 'Go away.' },
    ]);
  });

  it('reports malformed pairs of those formats by line number', () => {
    const text = [
      line({ chosen: [user('a'), assistant('b')], rejected: [user('x'), assistant('c')] }), // 1: nothing shared
      line({ chosen: [user('a'), assistant('b')], rejected: [user('a'), assistant('b')] }), // 2: identical
      line({ chosen: 'b', rejected: 'c' }), // 3: strings with no prompt
      line({ prompt: 'a', chosen: [assistant('b'), assistant('b2')], rejected: 'c' }), // 4: two replies
      line({ prompt: 'a', chosen: 'b', rejected: [user('c')] }), // 5: a reply from the user
      line({ chosen: [user('a'), assistant('b'), assistant('c')], rejected: [user('a'), assistant('b'), assistant('d')] }), // 6: shared turns end with the assistant
      line({ prompt: [user('a')], chosen: [assistant('same')], rejected: 'same' }), // 7: identical replies
      line({ prompt: 'a', chosen: 'b', rejected: 'c' }), // 8: good
      line({ prompt: 'x', chosen: [user('a'), assistant('b')], rejected: [user('a'), assistant('c')] }), // 9: shared turns that are not the prompt
      line({ chosen: [assistant('b')] }), // 10: no prompt, no rejected
    ].join('\n');
    const { examples, errors } = parseDpoJsonl(text);
    expect(examples).toHaveLength(1);
    expect(errors.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 10]);
    const at = (n: number) => errors.find((e) => e.line === n)!.message;
    expect(at(1)).toMatch(/share no leading turns/);
    expect(at(2)).toMatch(/identical/);
    expect(at(3)).toMatch(/"prompt" is missing/);
    expect(at(4)).toMatch(/"chosen" must be one assistant reply/);
    expect(at(5)).toMatch(/"rejected" must be one assistant reply/);
    expect(at(6)).toMatch(/prompt must end with a user turn/);
    expect(at(7)).toMatch(/identical/);
    expect(at(9)).toMatch(/begin with the same turns, and they are not the "prompt"/);
    expect(at(10)).toMatch(/"prompt" is missing/);
  });

  it('reads the bundled pairs into exactly their own fields, so their fingerprint is unchanged', () => {
    const text = readFileSync(join(ROOT, 'corpora', 'chat', 'dpo_val.jsonl'), 'utf8');
    const { examples, errors } = parseDpoJsonl(text);
    expect(errors).toEqual([]);
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    expect(examples.map((e) => JSON.stringify(e))).toEqual(lines);
  });
});

describe('parsePromptJsonl', () => {
  it('reads prompt strings, prompt messages and conversations ending with the user', () => {
    const text = [
      line({ prompt: 'What is 2 plus 3?', answer: '5' }), // extra fields are ignored
      line({ prompt: [system('Think.'), user('What is 2 plus 3?')] }),
      line({ messages: [user('Hi'), assistant('Hello!'), user('Spell cat.')] }),
    ].join('\n');
    const { examples, errors } = parsePromptJsonl(text);
    expect(errors).toEqual([]);
    expect(examples).toEqual([
      { prompt: [user('What is 2 plus 3?')] },
      { prompt: [system('Think.'), user('What is 2 plus 3?')] },
      { prompt: [user('Hi'), assistant('Hello!'), user('Spell cat.')] },
    ]);
  });

  it('reports malformed prompts by line number', () => {
    const text = [
      line({ messages: [user('Hi'), assistant('Hello!')] }), // 1: ends with the assistant
      line({ prompt: [user('Hi'), assistant('Hello!')] }), // 2: likewise
      line({ text: 'Once upon a time.' }), // 3
      line({ question: 'Hi?' }), // 4: no prompt
      line({ prompt: [system('Only this.')] }), // 5
      line({ prompt: '   ' }), // 6: empty
      '{"prompt": "unfinished', // 7
      line({ prompt: [assistant('Hi'), user('Hello')] }), // 8: starts with the assistant
      line({ prompt: 'ok' }), // 9: good
    ].join('\n');
    const { examples, errors } = parsePromptJsonl(text);
    expect(examples).toEqual([{ prompt: [user('ok')] }]);
    expect(errors.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const at = (n: number) => errors.find((e) => e.line === n)!.message;
    expect(at(1)).toMatch(/"messages" must end with a user turn/);
    expect(at(2)).toMatch(/prompt must end with a user turn/);
    expect(at(3)).toMatch(/pretraining text/);
    expect(at(4)).toMatch(/expected "prompt"/);
    expect(at(5)).toMatch(/prompt must end with a user turn/);
    expect(at(6)).toMatch(/"prompt" is empty/);
    expect(at(7)).toMatch(/not valid JSON/);
    expect(at(8)).toMatch(/prompt must start with a user turn/);
  });
});
