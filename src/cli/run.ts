/** The gcache-advisor command line: argument parsing and dispatch to the commands. */
import { parseArgs } from 'node:util';
import { loadConfigFile, type Config } from '../config/load.js';
import { sampleOnce } from './sample-once.js';
import { renderReport } from './report.js';
import { Store } from '../store/store.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { VERSION } from '../version.js';
import { boundHeapGrowth } from './heap.js';

const MAIN_HELP = `gcache-advisor: measures the Galera replication window, each node's IST budget
and the gcache.size a cluster needs.

Usage: gcache-advisor <command> [options]

Commands:
  serve     run the daemon: sample on a schedule, store, analyse
  sample    read every node once and print one JSON line per node (--once)
  report    print every node's window, IST budget and donor, and the recommendation
  can-leave ask a running daemon whether NODE can be down for DURATION (exit 0 safe, 1 risky)

Run 'gcache-advisor <command> --help' for a command's options.
The config file may also be given as GCACHE_ADVISOR_CONFIG.
`;

const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: gcache-advisor serve -c FILE

Runs the daemon until SIGINT or SIGTERM. SIGHUP reloads the rules folder (an invalid set is
refused, with the file and line, and the previous set kept).

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
  report: `Usage: gcache-advisor report -c FILE [--json]

Prints, for every node, the replication window (measured, and estimated at the short- and
long-term rates), the IST budget (at the current and a pessimistic rate) and the donor; then
each cluster's recommended gcache.size with its arithmetic and warnings. Reads the latest
analysis stored by 'gcache-advisor serve' (same config, same storage.path). Exits 1 when
there is none yet.

Options:
  -c, --config FILE   YAML config file (or GCACHE_ADVISOR_CONFIG)
      --json          print the full analysis as JSON instead of the table
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
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (!(command in COMMAND_HELP)) {
    process.stderr.write(`gcache-advisor: unknown command "${command}"\n\n${MAIN_HELP}`);
    return 2;
  }
  let values: { config?: string; once?: boolean; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        once: { type: 'boolean' },
        json: { type: 'boolean' },
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
    case 'report':
      return report(config, values.json === true);
  }
  return 2;
}

function report(config: Config, json: boolean): number {
  const store = new Store(config.storage.path);
  try {
    const configured = new Set(config.clusters.map((c) => c.name));
    const analyses = store.latestAnalyses().filter((a) => configured.has(a.cluster));
    if (analyses.length === 0) {
      process.stderr.write(`gcache-advisor report: no analysis in ${config.storage.path} yet; run 'gcache-advisor serve -c ...' first\n`);
      return 1;
    }
    process.stdout.write(json ? JSON.stringify(analyses, null, 2) + '\n' : renderReport(analyses, Date.now()));
    return 0;
  } finally {
    store.close();
  }
}

async function serve(config: Config): Promise<number> {
  // The signals are taken from the start: the daemon announces its address before its first
  // cycle ends, and a SIGHUP or SIGTERM sent meanwhile must not meet Node's default action
  // (exit, with nothing shut down). A stop asked while starting waits for the start to end.
  let daemon: Daemon | null = null;
  let reloadWhenStarted = false;
  let requestStop: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));
  process.on('SIGINT', () => requestStop('SIGINT'));
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  // SIGHUP re-reads the rules folder; an invalid set is refused and the old one kept.
  process.on('SIGHUP', () => {
    if (daemon) daemon.engine.reload();
    else reloadWhenStarted = true;
  });
  boundHeapGrowth();
  daemon = await startDaemon(config);
  const started = daemon;
  if (reloadWhenStarted) started.engine.reload();
  // Last-resort handlers: whatever escapes is logged through the secret scrubber, never printed
  // raw by Node. A rejection nobody awaited is logged and the daemon goes on; an uncaught
  // exception leaves the process in an unknown state, so it is logged and the daemon exits 1.
  process.on('unhandledRejection', (reason) => started.log.error('unhandled rejection', { err: reason instanceof Error ? reason : String(reason) }));
  process.on('uncaughtException', (err) => {
    started.log.error('uncaught exception: exiting', { err, stack: err.stack });
    process.exit(1);
  });
  const signal = await stopRequested;
  started.log.info('shutting down', { signal });
  try {
    await started.stop();
    return 0;
  } catch (err) {
    started.log.error('shutdown failed', { err: err as Error });
    return 1;
  }
}
