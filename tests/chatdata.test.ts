import { describe, expect, it } from 'vitest';
import { parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });
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
      line({ messages: [user('Hi'), { role: 'system', content: 'x' }] }), // 6: unknown role
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
    expect(at(4)).toMatch(/"messages" must be an array/);
    expect(at(5)).toMatch(/messages\[1\] content is empty/);
    expect(at(6)).toMatch(/unknown role "system"/);
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
      pair({ prompt: 'What is 3 plus 4?' }), // 8: prompt not a list of messages
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
    expect(at(8)).toMatch(/"prompt" must be an array/);
    expect(at(9)).toMatch(/unknown role "robot"/);
    expect(at(10)).toMatch(/"kind" is empty/);
  });
});
