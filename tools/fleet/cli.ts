/**
 * The fleet simulator as a process:
 *
 *   tsx tools/fleet/cli.ts --clusters 334 --nodes 3 --port 30000
 *
 * prints one JSON line, {"nodes":[{cluster,name,host,port},…],"origin":…,"seed":…}, once every
 * node listens, and runs until SIGTERM or SIGINT. With --stdin it also takes the commands
 * "stop <i>" and "start <i>" (node index) on stdin, one per line, answers "ok stop <i>", and exits
 * when stdin closes, so a parent that dies never leaves a fleet behind.
 */
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import { parseDuration, parseSize } from '../../src/units/parse.js';
import { startFleet, DEFAULT_BASE_PORT } from './fleet.js';
import { DEFAULT_PASSWORD_ENV } from './config-yaml.js';

const USAGE = `usage: tsx tools/fleet/cli.ts --clusters N --nodes M [options]

  --clusters N          clusters (default 1)
  --nodes M             nodes per cluster (default 3)
  --port P              port of the first node; node i listens on P + i (default ${DEFAULT_BASE_PORT})
  --host H              listen address (default 127.0.0.1)
  --seed S              load model seed (default 1)
  --since T             when the clusters started: Unix ms, an RFC 3339 time, or a duration ago
                        such as 7d (default: now)
  --gcache-size SIZE    gcache.size of every node (default 128M)
  --base-rate R         mean write-sets/s of a cluster with load factor 1 (default 40)
  --no-recover          gcache.recover = no: a restarted node's gcache starts empty
  --user U              accept only this user, with the password in --password-env
  --password-env VAR    the variable holding that password (default ${DEFAULT_PASSWORD_ENV})
  --stdin               take "stop <i>" / "start <i>" on stdin; exit when stdin closes
`;

class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name}: expected a whole number of at least 1, got "${value}"`);
  return n;
}

function parseSince(value: string | undefined, now: number): number {
  if (value === undefined) return now;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const time = Date.parse(value);
  if (!Number.isNaN(time) && /^\d{4}-/.test(value)) return time;
  try {
    return now - parseDuration(value) * 1000;
  } catch {
    throw new UsageError(`--since: expected Unix ms, an RFC 3339 time or a duration such as 7d, got "${value}"`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string' },
      nodes: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      since: { type: 'string' },
      'gcache-size': { type: 'string' },
      'base-rate': { type: 'string' },
      'no-recover': { type: 'boolean' },
      user: { type: 'string' },
      'password-env': { type: 'string' },
      stdin: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const baseRate = values['base-rate'] === undefined ? undefined : Number(values['base-rate']);
  if (baseRate !== undefined && !(baseRate > 0)) throw new UsageError(`--base-rate: expected a number above 0, got "${values['base-rate']}"`);
  let gcacheSize: number | undefined;
  try {
    gcacheSize = values['gcache-size'] === undefined ? undefined : parseSize(values['gcache-size']);
  } catch (err) {
    throw new UsageError(`--gcache-size: ${(err as Error).message}`);
  }
  let credentials: { user: string; password: string } | undefined;
  if (values.user !== undefined) {
    const variable = values['password-env'] ?? DEFAULT_PASSWORD_ENV;
    const password = process.env[variable];
    if (password === undefined) throw new UsageError(`--user: the password variable ${variable} is not set`);
    credentials = { user: values.user, password };
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected a whole number, got "${values.seed}"`);

  const fleet = await startFleet({
    clusters: positiveInt('clusters', values.clusters, 1),
    nodesPerCluster: positiveInt('nodes', values.nodes, 3),
    basePort: positiveInt('port', values.port, DEFAULT_BASE_PORT),
    host: values.host ?? '127.0.0.1',
    seed,
    origin: parseSince(values.since, Date.now()),
    ...(gcacheSize === undefined ? {} : { gcacheSize }),
    ...(baseRate === undefined ? {} : { baseRate }),
    gcacheRecover: !values['no-recover'],
    ...(credentials ? { credentials } : {}),
  });
  process.stdout.write(JSON.stringify({ nodes: fleet.nodes, origin: fleet.model.origin, seed: fleet.model.seed }) + '\n');

  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    await fleet.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));

  if (values.stdin) {
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const match = /^\s*(stop|start)\s+(\d+)\s*$/.exec(line);
      if (!match) {
        process.stdout.write(`error: expected "stop <i>" or "start <i>", got "${line}"\n`);
        return;
      }
      const [, verb, index] = match;
      const action = verb === 'stop' ? fleet.stopNode(Number(index)) : fleet.startNode(Number(index));
      action.then(
        () => process.stdout.write(`ok ${verb} ${index}\n`),
        (err: Error) => process.stdout.write(`error: ${err.message}\n`),
      );
    });
    lines.on('close', () => void shutdown(0));
  }
}

main().catch((err: Error) => {
  process.stderr.write(`fleet: ${err.message}\n${err instanceof UsageError ? USAGE : ''}`);
  process.exit(2);
});
