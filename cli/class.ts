/**
 * class: the class's checkpoint files in one table (src/core/class/roster.ts), as the Class view
 * shows it: who, stage and lineage, steps, the base's tokens per parameter, validation loss in nats
 * and bits per character, the stage's held-out figure, spikes and recoveries, and the outliers
 * flagged. A folder stands for the .safetensors files in it; a file that is not a checkpoint is
 * listed as refused, with its reason, and the others still count.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { classCsv, type ClassRow, isRefused, readClassFile, type RefusedFile } from '../src/core/class/roster.ts';
import { type Command, FLAGS, type Options, print, readBytes, str, text } from './args.ts';

/** The files named, a folder standing for its .safetensors files (sorted, so the table's order is stable). */
function filesOf(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    let isFolder = false;
    try {
      isFolder = statSync(p).isDirectory();
    } catch {
      return [p]; // reported as unreadable below, with the others still read
    }
    return isFolder ? readdirSync(p).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(p, f)) : [p];
  });
}

const fmt = (v: number | null, digits: number) => (v === null ? '—' : v.toFixed(digits));

async function run(opts: Options): Promise<void> {
  const json = Boolean(opts.json);
  const paths = filesOf((opts.files as string[] | undefined) ?? []);
  if (paths.length === 0) throw new Error('--files F… is required: the checkpoint files (or folders of them) of the class');
  const rows: ClassRow[] = [];
  const refused: RefusedFile[] = [];
  for (const path of paths) {
    let result: ClassRow | RefusedFile;
    try {
      result = await readClassFile(basename(path), readBytes(path, 'files'));
    } catch (e) {
      result = { file: basename(path), reason: e instanceof Error ? e.message : String(e) };
    }
    if (isRefused(result)) refused.push(result);
    else rows.push(result);
  }
  for (const r of rows) {
    const { curve, ...row } = r;
    print(json, { ...row, points: curve.length },
      `${(r.student || '(no name)').padEnd(18)} ${r.stage.padEnd(8)} ${r.lineage.padEnd(34)} ${String(r.steps).padStart(6)} steps | tokens/param ${fmt(r.tokensPerParameter, 1).padStart(6)} | val ${fmt(r.valLoss, 3)} (${fmt(r.bitsPerChar, 3)} bits/char)` +
        `${r.headline ? ` | ${r.headline.name} ${fmt(r.headline.value, 3)}` : ''}${r.spikes ? ` | spikes ${r.spikes}, recovered ${r.recovered}` : ''}${r.flags.length ? ` | ⚑ ${r.flags.join(', ')}` : ''} · ${r.file}`);
  }
  for (const f of refused) print(json, { refused: true, ...f }, `refused ${f.file}: ${f.reason}`);
  const csv = str(opts, 'csv');
  if (csv) writeFileSync(csv, classCsv(rows, refused));
  const flagged = rows.filter((r) => r.flags.length > 0).length;
  print(json, { summary: true, files: paths.length, read: rows.length, refused: refused.length, flagged, csv: csv ?? null },
    `${rows.length} of ${paths.length} files read, ${refused.length} refused, ${flagged} flagged${csv ? `; CSV in ${csv}` : ''}`);
}

export const classTable: Command = {
  name: 'class',
  about: "the class's checkpoint files (or folders of them) in one table: who, stage and lineage, steps, the base's tokens per parameter, validation loss and bits per character, the stage's held-out figure, spikes, outliers flagged; files that are not checkpoints are refused with their reason. Nothing is sent anywhere",
  flags: [text('files', 'F…', 'checkpoint files or folders', { required: true, kind: 'list' }), text('csv', 'OUT', 'also write the table as CSV'), FLAGS.json],
  rest: 'files',
  run,
};
