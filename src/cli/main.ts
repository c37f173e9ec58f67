#!/usr/bin/env node
/**
 * The gapseg command. User mistakes (GapsegError) print one line and exit non-zero;
 * anything else is a bug and keeps its stack trace.
 */
import fs from 'node:fs';
import { GapsegError } from '../util/errors.js';
import { packageVersion } from '../util/packageInfo.js';
import { formatHelp, nearest, parseArgs } from '../options/schema.js';
import type { Command } from './common.js';
import { trainCommand } from './train.js';
import { predictCommand } from './predict.js';
import { evalCommand } from './eval.js';
import { demoCommand } from './demo.js';
import { viewCommand } from './view.js';
import { exportCommand } from './export.js';

const COMMANDS: Command[] = [demoCommand, trainCommand, predictCommand, evalCommand, viewCommand, exportCommand];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.schema.name.length)) + 4;
  return [
    'gapseg - train and run segmentation models from labels with gaps',
    '',
    'Annotators mark what surely is the object and what surely is not, and leave a gap between.',
    'gapseg never makes that gap a class: the model has one output per real class, void pixels add',
    'nothing to the loss or the metrics, and forbidden classes are never predicted.',
    '',
    'usage: gapseg <command> [options]     (gapseg <command> --help for details)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.schema.name.padEnd(width)}${c.schema.summary}`),
    '',
    'quick start:',
    '  gapseg demo                                   # train and predict on the built-in sample',
    '  gapseg train data/smoke --out runs/smoke      # data/smoke: images/, labels/, gapseg.json',
    '  gapseg predict runs/smoke photos/ --out pred',
    '  gapseg eval runs/smoke data/smoke',
    '  gapseg view demo-out                          # browse data, predictions and model in a browser',
    '',
  ].join('\n');
}

/** The names of the commands, in the order --help lists them. */
export function commandNames(): string[] {
  return COMMANDS.map((c) => c.schema.name);
}

/** Run the CLI with these arguments; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`gapseg ${packageVersion()}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.schema.name === name);
  if (!cmd) {
    const near = nearest(name, commandNames());
    process.stderr.write(
      `gapseg: unknown command "${name}"${near ? ` (did you mean ${near}?)` : ''} (commands: ${commandNames().join(', ')}; see gapseg --help)\n`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(formatHelp(cmd.schema, process.stdout.columns || 100));
    return 0;
  }
  return cmd.run(parseArgs(cmd.schema, rest));
}

const isEntry = process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(new URL(import.meta.url).pathname);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof GapsegError) {
        process.stderr.write(`gapseg: ${e.message}\n`);
        process.exit(e.exitCode);
      }
      process.stderr.write(`gapseg: internal error (please report it):\n${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(70);
    },
  );
}
