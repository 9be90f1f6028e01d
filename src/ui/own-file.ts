/** A student's own JSONL file for SFT or DPO, checked here line by line before anything is sent. */
import type { LineError } from '../core/post/chatdata.ts';

export interface OwnFile {
  name: string;
  text: string;
  examples: number;
  errors: LineError[];
}

/** Reads the file and reports every line `parse` cannot use (the worker skips them). */
export async function readOwnFile(file: File, parse: (text: string) => { examples: unknown[]; errors: LineError[] }): Promise<OwnFile> {
  const text = await file.text();
  const { examples, errors } = parse(text);
  return { name: file.name, text, examples: examples.length, errors };
}

/** The file as the worker takes it, when it has any usable example. */
export function ownData(own: OwnFile | null): { ownData: { name: string; text: string } } | Record<string, never> {
  return own && own.examples > 0 ? { ownData: { name: own.name, text: own.text } } : {};
}
