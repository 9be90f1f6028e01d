/**
 * Chat data for the SFT, DPO, reward-model and RL stages, and the JSON Lines parsers that read it.
 *
 * The parsers accept TRL's dataset formats (huggingface.co/docs/trl/dataset_formats), so a JSONL
 * exported from a Hugging Face dataset loads as it is; fields other than the ones below are ignored.
 *
 *   SFT     {"messages": [...]}                               conversational language modelling
 *           {"prompt": "…", "completion": "…"}                standard prompt-completion
 *           {"prompt": [...], "completion": [...]}            conversational prompt-completion
 *   DPO/RM  {"prompt": "…", "chosen": "…", "rejected": "…"}   standard preference
 *           {"prompt": [...], "chosen": [...], "rejected": [...]}   conversational preference
 *           {"chosen": [...], "rejected": [...]}              implicit prompt: the shared leading turns
 *   RL      {"prompt": "…"} or {"prompt": [...]} or {"messages": [...]} ending with the user's turn
 *
 * A message is {"role": "system" | "user" | "assistant", "content": "…"} (content may also be a
 * list of {"type": "text", "text": "…"} parts); a system message may only come first. A plain
 * string stands for one message: the user's in "prompt", the assistant's in "completion",
 * "chosen" and "rejected". TRL's standard language-modelling format, {"text": "…"}, is rejected
 * for chat stages with a message saying so: it has no assistant turn to learn, and plain text
 * belongs to pretraining (bring it as your own text file).
 *
 * Data files may be the bundled ones or the user's own, so the parsers trust nothing: every line
 * that cannot be used is reported with its 1-based line number and a one-line reason, and skipped.
 * A bad line never stops the rest of the file from loading, and is never dropped silently.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
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

/** One RL prompt: the conversation so far, ending with the user's turn; the policy writes the next. */
export interface PromptExample {
  prompt: ChatMessage[];
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

/** A message's content: a string, or TRL's list of typed parts whose text parts are joined. */
function content(value: unknown, where: string): string {
  if (Array.isArray(value)) {
    if (!value.every((p) => isObject(p) && p.type === 'text' && typeof p.text === 'string')) fail(`${where} content has parts other than {"type": "text", "text": "…"}`);
    return nonEmptyString(value.map((p) => (p as { text: string }).text).join(''), `${where} content`);
  }
  return nonEmptyString(value, `${where} content`);
}

function message(value: unknown, where: string): ChatMessage {
  if (!isObject(value)) fail(`${where} must be an object with "role" and "content"`);
  const { role } = value;
  if (role !== 'system' && role !== 'user' && role !== 'assistant') {
    fail(`${where} has unknown role ${JSON.stringify(role)} (expected "system", "user" or "assistant")`);
  }
  return { role, content: content(value.content, where) };
}

function messages(value: unknown, field: string): ChatMessage[] {
  if (!Array.isArray(value)) fail(`"${field}" must be an array of messages`);
  if (value.length === 0) fail(`"${field}" is empty`);
  const msgs = value.map((m, i) => message(m, `${field}[${i}]`));
  const late = msgs.findIndex((m, i) => i > 0 && m.role === 'system');
  if (late > 0) fail(`${field}[${late}] is a system message; only the first message may be one`);
  return msgs;
}

/** A field that is either a list of messages or a plain string, which stands for one `role` message. */
function turns(value: unknown, field: string, role: 'user' | 'assistant'): ChatMessage[] {
  if (typeof value === 'string') return [{ role, content: nonEmptyString(value, `"${field}"`) }];
  if (!Array.isArray(value)) fail(`"${field}" must be a string or an array of messages`);
  return messages(value, field);
}

/** The turns after an optional leading system message. */
function afterSystem(msgs: readonly ChatMessage[]): readonly ChatMessage[] {
  return msgs[0]?.role === 'system' ? msgs.slice(1) : msgs;
}

const TEXT_LINE = '"text" is plain language-modelling text with no assistant turn to learn: use it as pretraining text (your own text file)';

function sftExample(value: unknown): SftExample {
  if (!isObject(value)) fail('expected an object with "messages", or "prompt" and "completion"');
  let msgs: ChatMessage[];
  if (value.messages !== undefined) msgs = messages(value.messages, 'messages');
  else if (value.prompt !== undefined || value.completion !== undefined) {
    const prompt = turns(value.prompt, 'prompt', 'user');
    const completion = turns(value.completion, 'completion', 'assistant');
    if (prompt[prompt.length - 1].role !== 'user') fail('prompt must end with a user turn');
    if (completion[0].role !== 'assistant') fail('completion must start with an assistant turn');
    msgs = [...prompt, ...completion];
  } else if (value.text !== undefined) fail(TEXT_LINE);
  else fail('expected "messages", or "prompt" and "completion"');
  const turnsAfterSystem = afterSystem(msgs);
  if (turnsAfterSystem.length === 0 || turnsAfterSystem[0].role !== 'user') fail('conversation must start with a user turn (after an optional system message)');
  if (msgs[msgs.length - 1].role !== 'assistant') fail('conversation must end with an assistant turn');
  return { messages: msgs };
}

/** A preference side as one assistant reply: a string, or a list holding exactly one assistant message. */
function reply(value: unknown, field: string): string {
  const msgs = turns(value, field, 'assistant');
  if (msgs.length !== 1 || msgs[0].role !== 'assistant') fail(`"${field}" must be one assistant reply (a string, or a list of one assistant message)`);
  return msgs[0].content;
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

function dpoExample(value: unknown): DpoExample {
  if (!isObject(value)) fail('expected an object with "prompt", "chosen" and "rejected"');
  if (value.prompt === undefined && !(Array.isArray(value.chosen) && Array.isArray(value.rejected)) && value.chosen !== undefined) {
    fail('"prompt" is missing (with plain-string replies a preference pair needs one)');
  }
  let prompt = value.prompt === undefined ? undefined : turns(value.prompt, 'prompt', 'user');
  let chosen: string;
  let rejected: string;
  if (Array.isArray(value.chosen) && Array.isArray(value.rejected)) {
    // Both sides as messages. The turns they share are the prompt when there is no "prompt" (the
    // implicit-prompt format); with one, they may repeat it (as some exports do) but nothing else.
    const c = messages(value.chosen, 'chosen');
    const r = messages(value.rejected, 'rejected');
    let n = 0;
    while (n < c.length && n < r.length && sameMessage(c[n], r[n])) n++;
    if (n === c.length && n === r.length) fail('"chosen" and "rejected" are identical, so there is nothing to prefer');
    const shared = c.slice(0, n);
    if (!prompt && n === 0) fail('"chosen" and "rejected" share no leading turns, so there is no prompt (add "prompt", or start both with the same user turn)');
    if (prompt && n > 0 && !(n === prompt.length && shared.every((m, i) => sameMessage(m, prompt![i])))) {
      fail('"chosen" and "rejected" begin with the same turns, and they are not the "prompt"');
    }
    prompt ??= shared;
    chosen = reply(c.slice(n), 'chosen');
    rejected = reply(r.slice(n), 'rejected');
  } else {
    chosen = reply(value.chosen, 'chosen');
    rejected = reply(value.rejected, 'rejected');
  }
  if (!prompt) fail('"prompt" is missing');
  // The chosen and rejected replies are the assistant's next turn, so the prompt ends with the user.
  if (prompt[prompt.length - 1].role !== 'user') fail('prompt must end with a user turn');
  if (chosen === rejected) fail('"chosen" and "rejected" are identical, so there is nothing to prefer');
  const example: DpoExample = { prompt, chosen, rejected };
  if (value.kind !== undefined) example.kind = nonEmptyString(value.kind, '"kind"');
  return example;
}

function promptExample(value: unknown): PromptExample {
  if (!isObject(value)) fail('expected an object with "prompt"');
  let prompt: ChatMessage[];
  if (value.prompt !== undefined) prompt = turns(value.prompt, 'prompt', 'user');
  else if (value.messages !== undefined) {
    prompt = messages(value.messages, 'messages');
    if (prompt[prompt.length - 1].role !== 'user') fail('"messages" must end with a user turn: the policy writes the next one');
  } else if (value.text !== undefined) fail(TEXT_LINE);
  else fail('expected "prompt" (a string or messages) or "messages" ending with a user turn');
  if (prompt[prompt.length - 1].role !== 'user') fail('prompt must end with a user turn: the policy writes the next one');
  if (afterSystem(prompt)[0]?.role !== 'user') fail('prompt must start with a user turn (after an optional system message)');
  return { prompt };
}

/** Parse JSON Lines with a per-line check; blank lines are ignored. */
function parseJsonl<T>(text: string, check: (value: unknown) => T): Parsed<T> {
  const examples: T[] = [];
  const errors: LineError[] = [];
  if (text.startsWith('\uFEFF')) text = text.slice(1); // a byte-order mark some editors write first
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

/** SFT conversations: `{"messages": [...]}` or `{"prompt": …, "completion": …}` per line. */
export function parseSftJsonl(text: string): Parsed<SftExample> {
  return parseJsonl(text, sftExample);
}

/** Preference pairs (DPO, reward model): `{"prompt": …, "chosen": …, "rejected": …}`, or implicit-prompt `{"chosen": [...], "rejected": [...]}`, per line; an optional "kind" is kept. */
export function parseDpoJsonl(text: string): Parsed<DpoExample> {
  return parseJsonl(text, dpoExample);
}

/** RL prompts: `{"prompt": "…"}`, `{"prompt": [...]}` or `{"messages": [...]}` ending with the user's turn, per line. */
export function parsePromptJsonl(text: string): Parsed<PromptExample> {
  return parseJsonl(text, promptExample);
}
