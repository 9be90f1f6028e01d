/**
 * Chat data for the SFT and DPO stages, and the JSON Lines parsers that read it.
 *
 * Data files may be the bundled ones or the user's own, so the parsers trust nothing: every line
 * that cannot be used is reported with its 1-based line number and a one-line reason, and skipped.
 * A bad line never stops the rest of the file from loading, and is never dropped silently.
 */

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** One SFT conversation; it ends with the assistant turn the model learns to produce. */
export interface SftExample {
  messages: ChatMessage[];
}

/** One DPO preference: two possible assistant replies to the same prompt, the better one first. */
export interface DpoExample {
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  kind?: string; // what the pair teaches: "correct", "on-topic", "polite", "concise"
}

export interface LineError {
  line: number; // 1-based
  message: string;
}

export interface Parsed<T> {
  examples: T[];
  errors: LineError[];
}

/** Thrown inside a line's check; becomes that line's error. */
class LineProblem extends Error {}

function fail(message: string): never {
  throw new LineProblem(message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string`);
  if (value.trim() === '') fail(`${what} is empty`);
  return value;
}

function message(value: unknown, where: string): ChatMessage {
  if (!isObject(value)) fail(`${where} must be an object with "role" and "content"`);
  const { role, content } = value;
  if (role !== 'user' && role !== 'assistant') {
    fail(`${where} has unknown role ${JSON.stringify(role)} (expected "user" or "assistant")`);
  }
  return { role, content: nonEmptyString(content, `${where} content`) };
}

function messages(value: unknown, field: string): ChatMessage[] {
  if (!Array.isArray(value)) fail(`"${field}" must be an array of messages`);
  if (value.length === 0) fail(`"${field}" is empty`);
  return value.map((m, i) => message(m, `${field}[${i}]`));
}

function sftExample(value: unknown): SftExample {
  if (!isObject(value)) fail('expected an object with a "messages" array');
  const msgs = messages(value.messages, 'messages');
  if (msgs[0].role !== 'user') fail('conversation must start with a user turn');
  if (msgs[msgs.length - 1].role !== 'assistant') fail('conversation must end with an assistant turn');
  return { messages: msgs };
}

function dpoExample(value: unknown): DpoExample {
  if (!isObject(value)) fail('expected an object with "prompt", "chosen" and "rejected"');
  const prompt = messages(value.prompt, 'prompt');
  // The chosen and rejected replies are the assistant's next turn, so the prompt ends with the user.
  if (prompt[prompt.length - 1].role !== 'user') fail('prompt must end with a user turn');
  const chosen = nonEmptyString(value.chosen, '"chosen"');
  const rejected = nonEmptyString(value.rejected, '"rejected"');
  if (chosen === rejected) fail('"chosen" and "rejected" are identical, so there is nothing to prefer');
  const example: DpoExample = { prompt, chosen, rejected };
  if (value.kind !== undefined) example.kind = nonEmptyString(value.kind, '"kind"');
  return example;
}

/** Parse JSON Lines with a per-line check; blank lines are ignored. */
function parseJsonl<T>(text: string, check: (value: unknown) => T): Parsed<T> {
  const examples: T[] = [];
  const errors: LineError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw; // files saved with Windows line ends
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      errors.push({ line: i + 1, message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    try {
      examples.push(check(value));
    } catch (e) {
      if (!(e instanceof LineProblem)) throw e;
      errors.push({ line: i + 1, message: e.message });
    }
  });
  return { examples, errors };
}

/** SFT conversations, one `{"messages": [...]}` object per line. */
export function parseSftJsonl(text: string): Parsed<SftExample> {
  return parseJsonl(text, sftExample);
}

/** DPO pairs, one `{"prompt": [...], "chosen": "...", "rejected": "...", "kind": "..."}` object per line. */
export function parseDpoJsonl(text: string): Parsed<DpoExample> {
  return parseJsonl(text, dpoExample);
}
