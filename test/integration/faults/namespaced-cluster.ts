/**
 * A sandbox cluster whose nodes each live in a network namespace of a NetnsLab, with the
 * advisor's least-privilege account allowed from the root namespace, and a daemon config for it.
 */
import path from 'node:path';
import { GaleraSandbox } from '../../../tools/sandbox/galera-sandbox.ts';
import { ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from '../helpers.ts';
import { NetnsLab } from './netns.ts';

export interface NamespacedCluster {
  lab: NetnsLab;
  sandbox: GaleraSandbox;
  destroy(): Promise<void>;
}

export async function startNamespacedCluster(opts: { prefix: string; subnet: number; basePort: number; nodes?: number; gcacheSize?: string }): Promise<NamespacedCluster> {
  const nodes = opts.nodes ?? 3;
  const lab = NetnsLab.create({ prefix: opts.prefix, subnet: opts.subnet, nodes });
  let sandbox: GaleraSandbox | undefined;
  try {
    sandbox = await GaleraSandbox.create({
      nodes,
      basePort: opts.basePort,
      gcacheSize: opts.gcacheSize ?? '8M',
      nodeHosts: lab.nodeHosts(),
      nodeCommandPrefixes: lab.commandPrefixes(),
      clientHost: lab.hostAddress,
    });
    await sandbox.start();
    await sandbox.query(1, `CREATE USER '${ADVISOR_USER}'@'${lab.hostAddress}' IDENTIFIED BY '${ADVISOR_PASSWORD}'`);
  } catch (err) {
    await sandbox?.destroy();
    lab.destroy();
    throw err;
  }
  const started = sandbox;
  return {
    lab,
    sandbox: started,
    async destroy() {
      lab.healAll();
      await started.destroy();
      lab.destroy();
    },
  };
}

/** The daemon's config for a namespaced cluster: nodes at their namespace addresses. */
export function namespacedConfigYaml(sandbox: GaleraSandbox, extra: string, dbPath?: string): string {
  const nodes = sandbox.nodes.map((n) => `      - { name: ${n.name}, host: ${sandbox.hostOf(n.index)}, port: ${n.sqlPort} }`).join('\n');
  return `clusters:
  - name: sandbox
    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }
    nodes:
${nodes}
storage: { path: ${dbPath ?? path.join(sandbox.root, 'advisor.db')} }
${extra.includes('http:') ? '' : 'http: { listen: 127.0.0.1:0 }\n'}${extra}`;
}
