/**
 * LM Lab's command line: the same core as the browser lab, for teachers preparing checkpoints,
 * for benchmarks and for CI.   npm run lab -- <command> [options]   (npm run lab -- help)
 *
 * One file a command (the table is cli/commands.ts); this one finds the command, parses its flags
 * or prints its help, and turns any failure into one "error:" line.
 */
import { enableProdMode } from '@tensorflow/tfjs';
import { type Command, commandHelp, exitOnError, parseFor } from './args.ts';
import { COMMANDS, HELP } from './commands.ts';

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const about = name === 'help' && rest[0] !== undefined ? command(rest[0]) : undefined;
    return void console.log(about ? commandHelp(about) : HELP);
  }
  const cmd = command(name);
  if (rest.includes('--help') || rest.includes('-h')) return void console.log(commandHelp(cmd));
  await cmd.run(parseFor(cmd, rest));
}

function command(name: string): Command {
  const found = COMMANDS.find((c) => c.name === name);
  if (found) return found;
  if (name.startsWith('-')) throw new Error(`the command comes first: npm run lab -- <command> [options]; got "${name}"`);
  throw new Error(`unknown command "${name}"; try: npm run lab -- help`);
}

// Quiet tfjs's advice to install tfjs-node (LM Lab runs the same backends as the browser on purpose)
// and its other console notes, so errors stay one line.
enableProdMode();
exitOnError(main(process.argv.slice(2)));
