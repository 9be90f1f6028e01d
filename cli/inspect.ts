/**
 * inspect: what a checkpoint holds, after checking the whole file.
 */
import { decodeCheckpoint, inspectCheckpoint } from '../src/core/io/checkpoint.ts';
import { type Command, FLAGS, type Options, readBytes, str } from './args.ts';

function run(opts: Options): void {
  const bytes = readBytes(str(opts, 'ckpt'), 'ckpt', 'checkpoint ');
  const { metrics, ...rest } = inspectCheckpoint(bytes);
  decodeCheckpoint(bytes); // the whole file, not just its header: tensors, shapes, finite values
  console.log(JSON.stringify({ ...rest, sizeBytes: bytes.length, metricsLogged: metrics.length, lastMetrics: metrics.slice(-3) }, null, 2));
}

export const inspect: Command = {
  name: 'inspect',
  about: 'config, stage, step and metadata, as JSON (checks the whole file)',
  flags: [FLAGS.ckpt],
  run,
};
