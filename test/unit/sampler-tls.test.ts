/**
 * TLS to a node: the certificate must name the host (verifyIdentity), the name is kept for that
 * check although the socket goes to the resolved address, and a TLS file that disappears is a
 * `tls_config` failure, not an unreachable node.
 *
 * No MySQL server with TLS runs here, so a small stand-in speaks the first step of the MySQL
 * protocol: it sends the server greeting offering TLS, reads the client's SSL request, and then
 * does the TLS handshake with a certificate made by openssl for the test. mysql2 (through
 * NodeReader) does everything on the client side as it would against a real server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import dns from 'node:dns';
import { Duplex } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { parseConfig, type NodeTarget } from '../../src/config/load.ts';
import { NodeReader } from '../../src/sampler/node-reader.ts';
import { mysqlSslOptions } from '../../src/sampler/tls-options.ts';
import { classifyFailure } from '../../src/sampler/failure.ts';
import { HostResolver } from '../../src/sampler/host-resolver.ts';
import { Sampler } from '../../src/sampler/sampler.ts';
import { Store } from '../../src/store/store.ts';
import { createLogger } from '../../src/log/logger.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-tls-'));

/** A self-signed certificate (its own CA) for `name` (or the given subjectAltName), made by openssl now. */
function certificateFor(name: string, altName = `DNS:${name}`): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${altName}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

/** The MySQL server greeting (protocol 10) of a server that offers TLS. */
function greeting(): Buffer {
  const CAPABILITIES = 0x1 /* LONG_PASSWORD */ | 0x200 /* PROTOCOL_41 */ | 0x800 /* SSL */ | 0x8000 /* SECURE_CONNECTION */ | 0x80000; /* PLUGIN_AUTH */
  const caps = Buffer.alloc(4);
  caps.writeUInt32LE(CAPABILITIES);
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('10.11.0-stand-in\0'),
    Buffer.from([1, 0, 0, 0]), // connection id
    Buffer.from('abcdefgh'), // scramble, part 1
    Buffer.from([0]),
    caps.subarray(0, 2),
    Buffer.from([33]), // utf8
    Buffer.from([2, 0]), // status: autocommit
    caps.subarray(2, 4),
    Buffer.from([21]), // scramble length
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'), // scramble, part 2
    Buffer.from('mysql_native_password\0'),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, 0, 0]);
  return Buffer.concat([header, payload]);
}

const SSL_REQUEST_BYTES = 4 + 32;

/** A stand-in server: greets, waits for the SSL request, then completes TLS with `credentials` if the client accepts it. */
async function tlsGreeter(address: string, credentials: { cert: string; key: string }) {
  const handshakes = { completed: 0, failed: 0 };
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(greeting());
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < SSL_REQUEST_BYTES) return;
      socket.off('data', onData);
      // What follows the SSL request is the client's TLS hello: hand it, and the rest, to TLS.
      const plain = new Duplex({ read() {}, write: (data, _enc, done) => socket.write(data, done) });
      plain.push(buffered.subarray(SSL_REQUEST_BYTES));
      socket.on('data', (data) => plain.push(data));
      socket.on('close', () => plain.destroy());
      const secure = new tls.TLSSocket(plain, { isServer: true, cert: fs.readFileSync(credentials.cert), key: fs.readFileSync(credentials.key) });
      secure.on('secure', () => {
        handshakes.completed++;
        socket.destroy(); // the test ends at the TLS handshake: no login follows
      });
      secure.on('error', () => {
        handshakes.failed++;
        socket.destroy();
      });
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return { port: (server.address() as net.AddressInfo).port, handshakes, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function target(host: string, port: number, tlsYaml: string): NodeTarget {
  const config = parseConfig(
    `clusters: [{ name: c, nodes: [{ name: n, host: ${host}, port: ${port}, user: u, passwordEnv: PW, tls: ${tlsYaml} }] }]`,
    path.join(dir, 'config.yaml'),
    { PW: 'tls-test-password' },
  );
  return config.clusters[0]!.nodes[0]!;
}

async function readFailure(t: NodeTarget, resolver?: HostResolver) {
  const reader = new NodeReader(t, 3000, resolver);
  try {
    const err = await reader.readStatus().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err, 'the stand-in never answers a query');
    return classifyFailure(err);
  } finally {
    await reader.close();
  }
}

test('the ssl options verify the identity unless the config turns it off', () => {
  const { cert } = certificateFor('builder');
  const strict = mysqlSslOptions({ ca: cert, rejectUnauthorized: true, verifyIdentity: true });
  assert.equal(strict.verifyIdentity, true);
  assert.equal(strict.rejectUnauthorized, true);
  assert.deepEqual(strict.ca, fs.readFileSync(cert));
  assert.equal(mysqlSslOptions({ rejectUnauthorized: true, verifyIdentity: false }).verifyIdentity, false);
  assert.equal(target('db', 3306, `{ ca: ${cert} }`).tls!.verifyIdentity, true, 'on by default');
  assert.equal(target('db', 3306, `{ ca: ${cert}, verifyIdentity: false }`).tls!.verifyIdentity, false);
});

test('a certificate for another host is refused; with verifyIdentity off it is accepted', async (t) => {
  const other = certificateFor('otherhost');
  const localhost = (await dns.promises.lookup('localhost')).address;
  const server = await tlsGreeter(localhost, other);
  t.after(() => server.close());

  const refused = await readFailure(target('localhost', server.port, `{ ca: ${other.cert} }`));
  assert.match(refused.message, /Hostname\/IP does not match certificate's altnames: Host: localhost\. is not in the cert's altnames: DNS:otherhost/);
  assert.equal(server.handshakes.completed, 0, 'no TLS session was set up');

  const accepted = await readFailure(target('localhost', server.port, `{ ca: ${other.cert}, verifyIdentity: false }`));
  assert.doesNotMatch(accepted.message, /altnames|certificate/, accepted.message);
  assert.equal(server.handshakes.completed, 1, 'the TLS handshake completed');
});

test('the host name, not the resolved address, is checked against the certificate', async (t) => {
  // "galera-node.test" can only be found through this resolver (.test never resolves in DNS), so
  // the socket went to the address it gave; the certificate names only "galera-node.test".
  const own = certificateFor('galera-node.test');
  const server = await tlsGreeter('127.0.0.1', own);
  t.after(() => server.close());
  const looked: string[] = [];
  const resolver = new HostResolver({
    lookup: async (host) => {
      looked.push(host);
      return { address: '127.0.0.1' };
    },
  });
  const failure = await readFailure(target('galera-node.test', server.port, `{ ca: ${own.cert} }`), resolver);
  assert.deepEqual(looked, ['galera-node.test']);
  assert.doesNotMatch(failure.message, /altnames|certificate|cert's/, failure.message);
  assert.equal(server.handshakes.completed, 1, 'the certificate was accepted for the name');
});

test('a node configured by IP address: the certificate must name that address', async (t) => {
  const named = certificateFor('localhost');
  const addressed = certificateFor('127.0.0.1'.replace(/\./g, '-'), 'IP:127.0.0.1');
  // Without care, node checks a certificate reached by address against the name "localhost".
  const byName = await tlsGreeter('127.0.0.1', named);
  t.after(() => byName.close());
  const refused = await readFailure(target('127.0.0.1', byName.port, `{ ca: ${named.cert} }`));
  assert.match(refused.message, /IP: 127\.0\.0\.1 is not in the cert's list/);
  assert.equal(byName.handshakes.completed, 0);

  const byAddress = await tlsGreeter('127.0.0.1', addressed);
  t.after(() => byAddress.close());
  const accepted = await readFailure(target('127.0.0.1', byAddress.port, `{ ca: ${addressed.cert} }`));
  assert.doesNotMatch(accepted.message, /altnames|certificate|cert's/, accepted.message);
  assert.equal(byAddress.handshakes.completed, 1);
});

test('a TLS file that disappears after start is a tls_config failure naming the file', async (t) => {
  const { cert } = certificateFor('vanishing');
  const copy = path.join(dir, 'ca-that-goes.pem');
  fs.copyFileSync(cert, copy);
  const config = parseConfig(
    `clusters: [{ name: c, connection: { user: u, passwordEnv: PW, tls: { ca: ${copy} } }, nodes: [{ name: n, host: 127.0.0.1 }] }]`,
    path.join(dir, 'config.yaml'),
    { PW: 'tls-test-password' },
  );
  fs.rmSync(copy);
  const store = new Store(path.join(dir, 'tls.db'));
  t.after(() => store.close());
  const sampler = new Sampler(config, store, createLogger({ level: 'error', write: () => undefined }));
  const result = (await sampler.runCycle())!;
  await sampler.stop();
  const outcome = result.outcomes[0]!;
  assert.ok(!outcome.ok);
  assert.equal(outcome.failure.reason, 'tls_config');
  assert.equal(outcome.failure.message, `cannot read the TLS ca file ${copy}: ENOENT`);
  store.recordCycle(result.outcomes); // what the cycle pipeline stores
  assert.equal(store.failures('c', 'n', 0, Number.MAX_SAFE_INTEGER)[0]!.reason, 'tls_config');
});
