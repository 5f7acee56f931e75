#!/usr/bin/env node
/**
 * Small CLI around GaleraSandbox, so a person can start a cluster, poke at it and tear it down:
 *   npm run sandbox -- up --dir .sandbox [--nodes 3] [--gcache-size 8M] [--base-port 23300]
 *   npm run sandbox -- stop-node 2 --dir .sandbox
 *   npm run sandbox -- down --dir .sandbox
 */
import { parseArgs } from 'node:util';
import { GaleraSandbox, SANDBOX_ADMIN } from './galera-sandbox.js';

const HELP = `Usage: sandbox <command> --dir DIR [options]

Commands:
  up                 create DIR, start N nodes and wait until all are Synced
  down               stop every node and delete DIR
  stop-node N        clean shutdown of node N
  kill-node N        SIGKILL node N
  start-node N       start node N again and wait until it is Synced
  status             print each node's ports, pid and wsrep state

Options:
  --dir DIR          sandbox folder (required)
  --nodes N          number of nodes for 'up' (default 3)
  --gcache-size S    gcache.size for 'up', in Galera's syntax (default 8M)
  --base-port P      node i uses P+10i (SQL), +1 (gmcast), +2 (IST), +3 (SST); default 23300
  --no-gcache-recover  start with gcache.recover=no
  -h, --help         show this help
`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      nodes: { type: 'string' },
      'gcache-size': { type: 'string' },
      'base-port': { type: 'string' },
      'no-gcache-recover': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  if (!values.dir) {
    process.stderr.write('sandbox: --dir is required\n');
    return 2;
  }
  const nodeIndex = (): number => {
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${command} needs a node number, got "${arg ?? ''}"`);
    return n;
  };
  switch (command) {
    case 'up': {
      const sandbox = await GaleraSandbox.create({
        root: values.dir,
        nodes: values.nodes ? Number(values.nodes) : undefined,
        gcacheSize: values['gcache-size'],
        basePort: values['base-port'] ? Number(values['base-port']) : undefined,
        gcacheRecover: !values['no-gcache-recover'],
      });
      try {
        await sandbox.start();
      } catch (err) {
        await sandbox.destroy({ keepFiles: true });
        throw err;
      }
      sandbox.detach();
      for (const n of sandbox.nodes) {
        process.stdout.write(`${n.name}: 127.0.0.1:${n.sqlPort} (socket ${n.socket}) pid ${n.pid}\n`);
      }
      process.stdout.write(`admin account: ${SANDBOX_ADMIN.user} (password in tools/sandbox/galera-sandbox.ts)\n`);
      return 0;
    }
    case 'down':
      await GaleraSandbox.load(values.dir).destroy();
      return 0;
    case 'stop-node': {
      const sandbox = GaleraSandbox.load(values.dir);
      await sandbox.stopNode(nodeIndex());
      return 0;
    }
    case 'kill-node': {
      const sandbox = GaleraSandbox.load(values.dir);
      await sandbox.killNode(nodeIndex());
      return 0;
    }
    case 'start-node': {
      const sandbox = GaleraSandbox.load(values.dir);
      await sandbox.startNode(nodeIndex());
      sandbox.detach();
      return 0;
    }
    case 'status': {
      const sandbox = GaleraSandbox.load(values.dir);
      for (const n of sandbox.nodes) {
        let state = 'stopped';
        if (sandbox.isRunning(n.index)) {
          state = await sandbox
            .status(n.index, ['wsrep_local_state_comment', 'wsrep_last_committed', 'wsrep_local_cached_downto'])
            .then((s) => `${s.wsrep_local_state_comment} last_committed=${s.wsrep_last_committed} cached_downto=${s.wsrep_local_cached_downto}`)
            .catch((e: Error) => `unreachable (${e.message})`);
        }
        process.stdout.write(`${n.name}: sql ${n.sqlPort} gmcast ${n.gmcastPort} ist ${n.istPort} sst ${n.sstPort} pid ${n.pid ?? '-'}: ${state}\n`);
      }
      return 0;
    }
    default:
      process.stderr.write(`sandbox: unknown command "${command}"\n${HELP}`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`sandbox: ${err.message}\n`);
    process.exit(1);
  },
);
