/** The gcache-advisor command line: argument parsing and dispatch to the commands. */
import { parseArgs } from 'node:util';
import { loadConfigFile, type Config } from '../config/load.js';
import { sampleOnce } from './sample-once.js';
import { startDaemon } from '../daemon.js';

const MAIN_HELP = `gcache-advisor: measures the Galera replication window, each node's IST budget
and the gcache.size a cluster needs.

Usage: gcache-advisor <command> [options]

Commands:
  serve     run the daemon: sample on a schedule, store, analyse
  sample    read every node once and print one JSON line per node (--once)

Run 'gcache-advisor <command> --help' for a command's options.
The config file may also be given as GCACHE_ADVISOR_CONFIG.
`;

const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: gcache-advisor serve -c FILE

Runs the daemon until SIGINT or SIGTERM.

Options:
  -c, --config FILE   YAML config file (or GCACHE_ADVISOR_CONFIG)
  -h, --help          show this help
`,
  sample: `Usage: gcache-advisor sample -c FILE --once

Reads every configured node once and prints one JSON line per node: its wsrep status and
gcache settings, or the reason it could not be read. Nothing is stored. Exits 1 when any
node could not be read: the quickest check of connectivity and privileges.

Options:
  -c, --config FILE   YAML config file (or GCACHE_ADVISOR_CONFIG)
      --once          read once and exit (the only mode)
  -h, --help          show this help
`,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(MAIN_HELP);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${await version()}\n`);
    return 0;
  }
  if (!(command in COMMAND_HELP)) {
    process.stderr.write(`gcache-advisor: unknown command "${command}"\n\n${MAIN_HELP}`);
    return 2;
  }
  let values: { config?: string; once?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        once: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`gcache-advisor ${command}: ${(err as Error).message}\n\n${COMMAND_HELP[command]}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(COMMAND_HELP[command]!);
    return 0;
  }
  const file = values.config ?? process.env.GCACHE_ADVISOR_CONFIG;
  if (!file) {
    process.stderr.write(`gcache-advisor ${command}: a config file is required (-c FILE or GCACHE_ADVISOR_CONFIG)\n`);
    return 2;
  }
  const config = loadConfigFile(file);

  switch (command) {
    case 'sample':
      if (!values.once) {
        process.stderr.write('gcache-advisor sample: only --once is supported; use "serve" to sample on a schedule\n');
        return 2;
      }
      return sampleOnce(config, (line) => process.stdout.write(line + '\n'));
    case 'serve':
      return serve(config);
  }
  return 2;
}

async function serve(config: Config): Promise<number> {
  const daemon = await startDaemon(config);
  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      daemon.log.info('shutting down', { signal });
      daemon.stop().then(
        () => resolve(0),
        (err: Error) => {
          daemon.log.error('shutdown failed', { err });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

