// Unit tests of the transport against a local HTTP server: retries on 503 with
// Retry-After, which requests are retried, typed errors, timeouts and headers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ConflictError,
  ConnectionError,
  InvalidArgumentError,
  NotFoundError,
  RequestTimeoutError,
  Sandboxed,
  SandboxedError,
  UnauthorizedError,
  UnavailableError,
} from '../dist/index.js';
import { localServers, replyError } from './helpers.mjs';

const VERSION = { version: '0.1.0', api_version: 'v1' };
const EXEC = {
  stdout: 'ok\n',
  stderr: '',
  exit_code: 0,
  duration_ms: 5,
  timed_out: false,
  truncated: false,
};

function ok(res, body) {
  res.writeHead(200, { 'Content-Type': 'application/json', 'X-Request-Id': 'ok' });
  res.end(JSON.stringify(body));
}

describe('retries', () => {
  const server = localServers();

  test('a GET answered 503 is retried after Retry-After and then succeeds', async () => {
    const s = await server((req, res, n) =>
      n === 1
        ? replyError(res, 503, 'unavailable', 'memory low', 'r1', { 'Retry-After': '1' })
        : ok(res, VERSION),
    );
    const client = new Sandboxed({ url: s.url, token: 't0ken' });
    const started = Date.now();
    assert.deepEqual(await client.version(), VERSION);
    const elapsed = Date.now() - started;
    assert.equal(s.requests.length, 2);
    // Without Retry-After the first backoff is at most 500 ms.
    assert.ok(elapsed >= 950, `retried after ${elapsed} ms, before Retry-After's 1 s`);
  });

  test('Retry-After as an HTTP date is honoured too', async () => {
    const s = await server((req, res, n) =>
      n === 1
        ? replyError(res, 503, 'unavailable', 'busy', 'r1', {
            'Retry-After': new Date(Date.now() + 2000).toUTCString(),
          })
        : ok(res, VERSION),
    );
    const started = Date.now();
    await new Sandboxed({ url: s.url }).version();
    // The date has 1 s resolution: at least ~1 s of the 2 s remain.
    assert.ok(Date.now() - started >= 900);
    assert.equal(s.requests.length, 2);
  });

  test('the wait is capped by maxRetryDelayMs', async () => {
    const s = await server((req, res, n) =>
      n === 1
        ? replyError(res, 503, 'unavailable', 'busy', 'r1', { 'Retry-After': '3600' })
        : ok(res, VERSION),
    );
    const started = Date.now();
    await new Sandboxed({ url: s.url, maxRetryDelayMs: 50 }).version();
    assert.ok(Date.now() - started < 2000);
    assert.equal(s.requests.length, 2);
  });

  test('attempts are bounded by maxRetries, then the typed 503 is thrown', async () => {
    const s = await server((req, res) =>
      replyError(res, 503, 'unavailable', 'too many execs', 'req-42', { 'Retry-After': '0' }),
    );
    const client = new Sandboxed({ url: s.url, maxRetries: 2 });
    await assert.rejects(client.sandboxes.get('abc'), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.ok(e instanceof SandboxedError);
      assert.equal(e.status, 503);
      assert.equal(e.code, 'unavailable');
      assert.equal(e.message, 'too many execs');
      assert.equal(e.requestId, 'req-42');
      assert.equal(e.retryAfter, 0);
      return true;
    });
    assert.equal(s.requests.length, 3);
  });

  test("a non-idempotent POST is retried on sandboxd's own 503 (it did nothing)", async () => {
    const s = await server((req, res, n) =>
      n === 1
        ? replyError(res, 503, 'unavailable', 'too many execs', 'r1', { 'Retry-After': '0' })
        : ok(res, EXEC),
    );
    const r = await new Sandboxed({ url: s.url }).sandboxes.exec('abc', { cmd: ['true'] });
    assert.equal(r.exit_code, 0);
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[1].method, 'POST');
    assert.deepEqual(JSON.parse(s.requests[1].body), { cmd: ['true'] });
  });

  test("a non-idempotent POST is not retried on a 503 that is not sandboxd's", async () => {
    const s = await server((req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/html', 'Retry-After': '0' });
      res.end('<html>proxy says no</html>');
    });
    await assert.rejects(
      new Sandboxed({ url: s.url }).sandboxes.exec('abc', { cmd: ['true'] }),
      (e) => {
        assert.ok(e instanceof UnavailableError);
        assert.equal(e.code, 'http_503');
        return true;
      },
    );
    assert.equal(s.requests.length, 1);
  });

  test('a GET whose connection breaks is retried; a non-idempotent POST is not', async () => {
    const s = await server((req, res, n) =>
      n === 1 || req.method === 'POST' ? req.socket.destroy() : ok(res, VERSION),
    );
    const client = new Sandboxed({ url: s.url });
    assert.deepEqual(await client.version(), VERSION);
    assert.equal(s.requests.length, 2);
    await assert.rejects(client.tasks.create('abc', { agent: 'claude', prompt: 'x' }), (e) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.status, 0);
      assert.equal(e.code, 'connection_error');
      return true;
    });
    assert.equal(s.requests.length, 3);
  });

  test('other errors are not retried', async () => {
    const s = await server((req, res) =>
      replyError(res, 409, 'conflict', 'a task is running', 'r9'),
    );
    await assert.rejects(new Sandboxed({ url: s.url }).sandboxes.get('abc'), ConflictError);
    assert.equal(s.requests.length, 1);
  });

  test('an abort during the Retry-After wait ends the call at once', async () => {
    const s = await server((req, res) =>
      replyError(res, 503, 'unavailable', 'busy', 'r1', { 'Retry-After': '30' }),
    );
    const ctl = new AbortController();
    const started = Date.now();
    setTimeout(() => ctl.abort(new Error('caller gave up')), 100);
    await assert.rejects(
      new Sandboxed({ url: s.url }).version({ signal: ctl.signal }),
      /caller gave up/,
    );
    assert.ok(Date.now() - started < 5000);
    assert.equal(s.requests.length, 1);
  });
});

describe('errors and requests', () => {
  const server = localServers();

  test('each code becomes its error class, with status, code, message and request id', async () => {
    const cases = [
      [400, 'invalid_request', InvalidArgumentError],
      [401, 'unauthorized', UnauthorizedError],
      [404, 'not_found', NotFoundError],
      [409, 'conflict', ConflictError],
    ];
    for (const [status, code, Class] of cases) {
      const s = await server((req, res) =>
        replyError(res, status, code, `${code} msg`, `id-${status}`),
      );
      await assert.rejects(new Sandboxed({ url: s.url }).sandboxes.get('x'), (e) => {
        assert.ok(e instanceof Class, `${status} gave ${e.name}`);
        assert.equal(e.name, Class.name);
        assert.deepEqual(
          [e.status, e.code, e.message, e.requestId],
          [status, code, `${code} msg`, `id-${status}`],
        );
        return true;
      });
    }
  });

  test("an answer without sandboxd's body is typed by its status, with X-Request-Id", async () => {
    const s = await server((req, res) => {
      res.writeHead(404, { 'X-Request-Id': 'hdr-1', 'Content-Type': 'text/plain' });
      res.end('nothing here');
    });
    await assert.rejects(new Sandboxed({ url: s.url }).sandboxes.get('x'), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.requestId, 'hdr-1');
      assert.equal(e.code, 'http_404');
      assert.equal(e.message, 'nothing here');
      return true;
    });
  });

  test('a request that outlives timeoutMs fails with RequestTimeoutError and is not retried', async () => {
    const s = await server(() => {}); // never answers
    const started = Date.now();
    await assert.rejects(new Sandboxed({ url: s.url, timeoutMs: 200 }).sandboxes.get('x'), (e) => {
      assert.ok(e instanceof RequestTimeoutError);
      assert.equal(e.code, 'request_timeout');
      return true;
    });
    assert.ok(Date.now() - started < 3000);
    assert.equal(s.requests.length, 1);
  });

  test('an exec waits at least its own timeout_s, whatever the client timeout', async () => {
    const s = await server((req, res) => setTimeout(() => ok(res, EXEC), 600));
    const client = new Sandboxed({ url: s.url, timeoutMs: 200 });
    const r = await client.sandboxes.exec('x', { cmd: ['sleep', '0.5'], timeout_s: 1 });
    assert.equal(r.exit_code, 0);
    await assert.rejects(client.sandboxes.get('x'), RequestTimeoutError);
  });

  test('sends the token, the request id, and JSON or raw bodies as their types', async () => {
    const s = await server((req, res) =>
      ok(res, req.method === 'PUT' ? { path: 'a', bytes_written: 3, appended: false } : VERSION),
    );
    const client = new Sandboxed({ url: `${s.url}/`, token: 'sekrit-token' });
    await client.version({ requestId: 'my-req.1' });
    await client.files.write('sb1', 'workspace/a.txt', 'hé');
    await client.files.write('sb1', 'workspace/a.bin', new Uint8Array([0, 255, 10]), {
      append: true,
    });
    const [v, text, raw] = s.requests;
    assert.equal(v.url, '/v1/version');
    assert.equal(v.headers.authorization, 'Bearer sekrit-token');
    assert.equal(v.headers['x-request-id'], 'my-req.1');
    assert.equal(text.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(text.body), {
      path: 'workspace/a.txt',
      content: 'hé',
      append: false,
    });
    assert.equal(raw.headers['content-type'], 'application/octet-stream');
    assert.equal(raw.url, '/v1/sandboxes/sb1/files?path=workspace%2Fa.bin&append=true');
    assert.deepEqual([...raw.body], [0, 255, 10]);
  });

  test('list filters go into the query and pages are followed to the end', async () => {
    const pages = {
      '': { sandboxes: [{ id: 'a' }, { id: 'b' }], next_after: 'b' },
      b: { sandboxes: [{ id: 'c' }], next_after: null },
    };
    const s = await server((req, res) => {
      const q = new URL(req.url, 'http://x').searchParams;
      ok(res, pages[q.get('after') ?? '']);
    });
    const ids = [];
    const client = new Sandboxed({ url: s.url });
    for await (const sb of client.sandboxes.list({
      status: 'running',
      metadata: { team: 'a b', env: 'prod' },
      limit: 2,
    }))
      ids.push(sb.id);
    assert.deepEqual(ids, ['a', 'b', 'c']);
    const q = new URL(s.requests[1].url, 'http://x').searchParams;
    assert.equal(q.get('status'), 'running');
    assert.equal(q.get('metadata.team'), 'a b');
    assert.equal(q.get('metadata.env'), 'prod');
    assert.equal(q.get('limit'), '2');
    assert.equal(q.get('after'), 'b');
  });

  test('the defaults come from SANDBOXD_URL and SANDBOXD_TOKEN', async () => {
    const s = await server((req, res) => ok(res, VERSION));
    const saved = [process.env.SANDBOXD_URL, process.env.SANDBOXD_TOKEN];
    process.env.SANDBOXD_URL = s.url;
    process.env.SANDBOXD_TOKEN = 'from-env';
    try {
      const client = new Sandboxed();
      assert.equal(client.url, s.url);
      await client.version();
      assert.equal(s.requests[0].headers.authorization, 'Bearer from-env');
    } finally {
      for (const [k, v] of [
        ['SANDBOXD_URL', saved[0]],
        ['SANDBOXD_TOKEN', saved[1]],
      ]) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
