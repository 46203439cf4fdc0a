// Shared by the tests. The integration tests need a real sandboxd: run them under
// build/sandboxd_with_daemon, which exports SANDBOXD_URL, SANDBOXD_TOKEN and
// SANDBOXED_TEST_MODEL_URL; without SANDBOXD_URL they are skipped.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after } from 'node:test';

import { NotFoundError } from '../dist/index.js';

export const live = Boolean(process.env.SANDBOXD_URL);
export const skipUnlessLive = live
  ? false
  : 'SANDBOXD_URL is not set (run under sandboxd_with_daemon)';

/** A sandbox id (1-32 of [a-z0-9]) unique to this run. */
export function uniqueId(prefix) {
  return `${prefix}${randomBytes(5).toString('hex')}`.slice(0, 32);
}

/** Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function eventually(
  fn,
  { timeoutMs = 30_000, intervalMs = 200, what = 'condition' } = {},
) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Purges sandboxes, ignoring the ones already gone. */
export async function purgeAll(client, ids) {
  for (const id of ids) {
    try {
      await client.sandboxes.purge(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
}

/**
 * A local HTTP server answering with `handler(req, res, n)` (n: 1 for the first request);
 * records each request's method, url and headers. Close it with `close()`.
 */
export async function localServer(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      handler(req, res, requests.length);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

/**
 * Starts localServer(handler)s for the tests of one describe block (call it in the
 * block's body) and closes them all after the block.
 */
export function localServers() {
  const servers = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  return async (handler) => {
    const s = await localServer(handler);
    servers.push(s);
    return s;
  };
}

/** Answers sandboxd's JSON error shape. */
export function replyError(res, status, code, message, requestId, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'X-Request-Id': requestId,
    ...headers,
  });
  res.end(JSON.stringify({ error: { code, message, request_id: requestId } }));
}
