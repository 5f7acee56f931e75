import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { send, parseRetryAfter, MAX_RETRY_AFTER_MS, type SinkTarget } from '../../src/alerts/sender.ts';
import { signBody, SIGNATURE_HEADER } from '../../src/sinks/webhook.ts';

/** A real HTTP server on 127.0.0.1 that records every request path; closed after `body` runs. */
async function withServer(handler: http.RequestListener, body: (url: string, paths: string[]) => Promise<void>): Promise<void> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const target = (url: string, timeoutMs = 5000): SinkTarget => ({ name: 'hook', type: 'webhook', url, hmacSecret: null, timeoutMs, firingHoldMs: 0 });

const timed = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
  const start = performance.now();
  const result = await run();
  return [result, performance.now() - start];
};

test('Retry-After is capped, and a negative, fractional or garbage value is null', () => {
  const now = Date.UTC(2026, 10, 22, 10, 0, 0);
  assert.equal(MAX_RETRY_AFTER_MS, 3_600_000);
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 3600 ', now), 3_600_000);
  assert.equal(parseRetryAfter('3601', now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter('999999999', now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter('9'.repeat(400), now), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter(new Date(now + 30 * 24 * 3600_000).toUTCString(), now), MAX_RETRY_AFTER_MS, 'a date a month ahead');
  assert.equal(parseRetryAfter(new Date(now + 90_000).toUTCString(), now), 90_000);
  assert.equal(parseRetryAfter('Sunday, 22-Nov-26 10:01:00 GMT', now), 60_000, 'the obsolete RFC 850 form');
  assert.equal(parseRetryAfter(new Date(now - 90_000).toUTCString(), now), 0, 'a date in the past means now');
  for (const garbage of ['-5', '-1', '1.5', '1e9', 'soon', 'soon 12', '12 soon', '', '   ']) {
    assert.equal(parseRetryAfter(garbage, now), null, JSON.stringify(garbage));
  }
});

test('a redirect is a failure that is not retried, and its target is never requested', async () => {
  for (const status of [301, 302, 307, 308]) {
    await withServer(
      (req, res) => {
        if (req.url === '/moved') res.writeHead(200).end('ok');
        else res.writeHead(status, { location: '/moved' }).end('see /moved');
      },
      async (url, paths) => {
        const result = await send(target(`${url}/hook`), 'firing', { a: 1 }, 'key-1');
        assert.deepEqual(result, { ok: false, retry: false, error: `HTTP ${status} (redirects are not followed)` });
        assert.deepEqual(paths, ['/hook'], `only the sink URL is requested after a ${status}`);
      },
    );
  }
});

test('an endless response body is not read to its end: the send completes promptly', async () => {
  const chunk = Buffer.alloc(16 * 1024, 'x');
  // Writes as fast as the client reads, until the client goes away.
  const endless =
    (status: number): http.RequestListener =>
    (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
  for (const [status, expected] of [
    [200, { ok: true }],
    [503, { ok: false, retry: true, error: 'HTTP 503', retryAfterMs: null }],
  ] as const) {
    await withServer(endless(status), async (url) => {
      const [result, ms] = await timed(() => send(target(url, 5000), 'firing', { a: 1 }, 'key-2'));
      assert.deepEqual(result, expected);
      assert.ok(ms < 2000, `took ${Math.round(ms)} ms with a 5000 ms sink timeout`);
    });
  }
});

test('a receiver that accepts the connection and never answers times out after the sink timeout', async () => {
  await withServer(
    () => {
      // Never answers.
    },
    async (url, paths) => {
      const [result, ms] = await timed(() => send(target(url, 300), 'firing', { a: 1 }, 'key-3'));
      assert.deepEqual(result, { ok: false, retry: true, error: 'timeout after 300 ms', retryAfterMs: null });
      assert.ok(ms >= 250 && ms < 2000, `took ${Math.round(ms)} ms`);
      assert.deepEqual(paths, ['/']);
    },
  );
});

test('a 429 with a huge Retry-After is retried after at most the cap', async () => {
  await withServer(
    (_req, res) => res.writeHead(429, { 'retry-after': '999999999' }).end('slow down'),
    async (url) => {
      const result = await send(target(url), 'firing', { a: 1 }, 'key-4');
      assert.deepEqual(result, { ok: false, retry: true, error: 'HTTP 429', retryAfterMs: MAX_RETRY_AFTER_MS });
    },
  );
});

test("the request comes from the sink type: Alertmanager's API path and array, a webhook's signature", async () => {
  const bodies: Array<{ body: string; signature: string | undefined }> = [];
  await withServer(
    (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        bodies.push({ body, signature: req.headers[SIGNATURE_HEADER] as string | undefined });
        res.writeHead(200).end();
      });
    },
    async (url, paths) => {
      const now = Date.UTC(2026, 10, 22, 10, 0, 0);
      const am: SinkTarget = { ...target(`${url}/`), type: 'alertmanager', firingHoldMs: 60_000 };
      assert.deepEqual(await send(am, 'firing', { labels: { alertname: 'A' } }, 'key-5', now), { ok: true });
      const hook: SinkTarget = { ...target(`${url}/hook`), hmacSecret: 'k3y' };
      assert.deepEqual(await send(hook, 'firing', { a: 1 }, 'key-6', now), { ok: true });
      assert.deepEqual(paths, ['/api/v2/alerts', '/hook']);
      assert.deepEqual(JSON.parse(bodies[0]!.body), [{ labels: { alertname: 'A' }, endsAt: '2026-11-22T10:01:00.000Z' }]);
      assert.equal(bodies[0]!.signature, undefined);
      assert.equal(bodies[1]!.signature, signBody('{"a":1}', 'k3y'));
    },
  );
});
