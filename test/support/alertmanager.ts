/**
 * A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, for the tests that deliver
 * to one: a route to a receiver that drops everything (what it received is read back through its
 * API), no cluster listener, storage in `dir`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { tracked } from './children.ts';
import { waitFor } from './wait.ts';

const CONFIG = "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n";

/** Starts it and waits until /-/ready answers; kill the returned process to stop it. */
export async function startAlertmanager(dir: string, port: number): Promise<ChildProcess> {
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'am.yml');
  fs.writeFileSync(config, CONFIG);
  const child = tracked(
    spawn('prometheus-alertmanager', [`--config.file=${config}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], {
      stdio: 'ignore',
    }),
  );
  await waitFor('Alertmanager', () =>
    fetch(`http://127.0.0.1:${port}/-/ready`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  return child;
}
