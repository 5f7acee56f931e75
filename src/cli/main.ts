#!/usr/bin/env node
/** Entry point of the gcache-advisor binary. */
import { main } from './run.js';
import { canLeave } from './can-leave.js';
import { ConfigError } from '../config/load.js';
import { RuleFileError } from '../rules/rule-file.js';
import { scrubSecrets } from '../log/logger.js';
import { DatabaseUnavailableError } from '../store/lock.js';

const [command, ...rest] = process.argv.slice(2);
// can-leave talks to a running daemon over HTTP: it needs no config, unlike the commands of run.ts.
const run = command === 'can-leave' ? canLeave(rest) : main(process.argv.slice(2));

run.then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof ConfigError || err instanceof RuleFileError || err instanceof DatabaseUnavailableError) {
      process.stderr.write(scrubSecrets(err.message) + '\n');
      process.exit(err.exitCode);
    }
    process.stderr.write(`gcache-advisor: ${scrubSecrets(err.message)}\n`);
    process.exit(1);
  },
);
