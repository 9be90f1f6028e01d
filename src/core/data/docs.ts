/**
 * Documents as JSONL, one {"text": …} a line; the bundled crawl's lines also carry the generator's
 * label (and, for a planted copy, the id it copies), which only the teacher's scores read.
 */
import type { LabelledDoc } from './curate.ts';

/** Parses a JSONL text of documents; `name` prefixes the line number of a bad line. */
export function parseDocsJsonl(text: string, name: string): LabelledDoc[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line, i) => {
    let o: { id?: unknown; text?: unknown; label?: unknown; dupOf?: unknown };
    try {
      o = JSON.parse(line);
    } catch {
      throw new Error(`${name}:${i + 1}: not valid JSON`);
    }
    if (typeof o.text !== 'string') throw new Error(`${name}:${i + 1}: no "text" string`);
    return { id: typeof o.id === 'number' ? o.id : i, text: o.text, label: typeof o.label === 'string' ? o.label : 'unlabelled', ...(typeof o.dupOf === 'number' ? { dupOf: o.dupOf } : {}) };
  });
}
