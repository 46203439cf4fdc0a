// Unit tests of streamed exec, background exec and the process calls against a local
// server: what is sent, how events and answers are read, how a stream ends (exit, an
// engine error, a cut connection, a break out of the loop).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ConflictError,
  ConnectionError,
  NotFoundError,
  Sandboxed,
  UnavailableError,
} from '../dist/index.js';
import { eventually, localServers, replyError } from './helpers.mjs';

const EXEC = '/v1/sandboxes/sb1/exec';
const PROCS = '/v1/sandboxes/sb1/processes';
const PROCESS = {
  id: 'p1',
  sandbox_id: 'sb1',
  cmd: ['npm', 'run', 'dev'],
  workdir: '/home/sandbox/workspace/app',
  pid: 42,
  state: 'running',
  exit_code: null,
  signal: null,
  timed_out: false,
  timeout_s: null,
  started_at: '2026-01-01T00:00:00.000Z',
  ended_at: null,
  output_url: '/v1/sandboxes/sb1/processes/p1/output',
};
const ENDED = { ...PROCESS, state: 'exited', signal: 15, ended_at: '2026-01-01T00:00:09.000Z' };

const frame = (type, data) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

function sse(res, requestId = 'rq-sse') {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-Request-Id': requestId });
}

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function collect(iterable) {
  const out = [];
  for await (const e of iterable) out.push(e);
  return out;
}

describe('streamed and background exec', () => {
  const start = localServers();
  async function server(handler) {
    const s = await start(handler);
    return { s, client: new Sandboxed({ url: s.url, token: 'tok' }) };
  }

  test('background: true answers the running process', async () => {
    const { s, client } = await server((req, res) => json(res, 202, PROCESS));
    const p = await client.sandboxes.exec('sb1', {
      cmd: ['npm', 'run', 'dev'],
      background: true,
      timeout_s: 600,
    });
    assert.deepEqual(p, PROCESS);
    assert.equal(s.requests[0].method, 'POST');
    assert.equal(s.requests[0].url, EXEC);
    assert.deepEqual(JSON.parse(s.requests[0].body), {
      cmd: ['npm', 'run', 'dev'],
      background: true,
      timeout_s: 600,
    });
  });

  test('execStream yields output as it comes, then the exit, and reads no further', async () => {
    const { s, client } = await server((req, res) => {
      sse(res);
      res.end(
        frame('stdout', { data: 'hel' }) +
          ': keepalive\n\n' +
          frame('stdout', { data: 'lo\n' }) +
          frame('stderr', { data: 'warn\n' }) +
          frame('exit', { exit_code: 3, timed_out: false, duration_ms: 12 }) +
          frame('stdout', { data: 'never read' }),
      );
    });
    const events = await collect(
      client.sandboxes.execStream('sb1', { cmd: ['sh', '-c', 'x'], env: { K: 'v' } }),
    );
    assert.deepEqual(events, [
      { type: 'stdout', text: 'hel' },
      { type: 'stdout', text: 'lo\n' },
      { type: 'stderr', text: 'warn\n' },
      { type: 'exit', exit: { exit_code: 3, timed_out: false, duration_ms: 12 } },
    ]);
    const seen = s.requests[0];
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, EXEC);
    assert.equal(seen.headers.accept, 'text/event-stream');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers.authorization, 'Bearer tok');
    assert.deepEqual(JSON.parse(seen.body), { cmd: ['sh', '-c', 'x'], env: { K: 'v' } });
  });

  test('an error event throws its typed error after the output before it', async () => {
    const { client } = await server((req, res) => {
      sse(res);
      res.end(
        frame('stdout', { data: 'partial' }) +
          frame('error', { error: { code: 'unavailable', message: 'dockerd left' } }),
      );
    });
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.sandboxes.execStream('sb1', { cmd: ['x'] })) seen.push(e);
      })(),
      (e) =>
        e instanceof UnavailableError &&
        e.code === 'unavailable' &&
        e.message.includes('dockerd left') &&
        e.requestId === 'rq-sse',
    );
    assert.deepEqual(seen, [{ type: 'stdout', text: 'partial' }]);
  });

  test('a stream that ends before its exit throws ConnectionError', async () => {
    const { client } = await server((req, res) => {
      sse(res);
      res.end(frame('stdout', { data: 'a' }) + 'event: exit\ndata: {"exit_co');
    });
    await assert.rejects(
      collect(client.sandboxes.execStream('sb1', { cmd: ['x'] })),
      (e) => e instanceof ConnectionError && /ended before its exit/.test(e.message),
    );
  });

  test('a silent stream is taken as broken', async () => {
    const { client } = await server((req, res) => {
      sse(res);
      res.write(frame('stdout', { data: 'a' })); // then nothing
    });
    await assert.rejects(
      collect(client.sandboxes.execStream('sb1', { cmd: ['x'] }, { idleTimeoutMs: 300 })),
      (e) => e instanceof ConnectionError && /silent/.test(e.message),
    );
  });

  test('an error answer throws typed before any event', async () => {
    const { s, client } = await server((req, res) =>
      replyError(res, 404, 'not_found', 'sandbox sb1 not found', 'rq'),
    );
    await assert.rejects(
      collect(client.sandboxes.execStream('sb1', { cmd: ['x'] })),
      NotFoundError,
    );
    assert.equal(s.requests.length, 1);
  });

  test('breaking out of the loop closes the connection (which ends the command)', async () => {
    let closed = false;
    const { client } = await server((req, res) => {
      sse(res);
      res.write(frame('stdout', { data: 'tick\n' }));
      res.on('close', () => (closed = true));
    });
    for await (const e of client.sandboxes.execStream('sb1', { cmd: ['sleep', '600'] })) {
      assert.deepEqual(e, { type: 'stdout', text: 'tick\n' });
      break;
    }
    await eventually(() => closed, { timeoutMs: 5000, what: 'the server to see the close' });
  });
});

describe('processes', () => {
  const start = localServers();
  async function server(handler) {
    const s = await start(handler);
    return { s, client: new Sandboxed({ url: s.url, token: 'tok' }) };
  }

  test('list, get, kill and output use their routes', async () => {
    const { s, client } = await server((req, res, n) => {
      if (n === 1) json(res, 200, { processes: [PROCESS, ENDED] });
      else if (n === 2) json(res, 200, PROCESS);
      else if (n === 3) json(res, 200, ENDED);
      else json(res, 200, { stdout: 'ning\n', stderr: '' });
    });
    assert.deepEqual(await client.processes.list('sb1'), [PROCESS, ENDED]);
    assert.deepEqual(await client.processes.get('sb1', 'p1'), PROCESS);
    assert.deepEqual(await client.processes.kill('sb1', 'p1', 'KILL'), ENDED);
    assert.deepEqual(await client.processes.output('sb1', 'p1', { tail: 5 }), {
      stdout: 'ning\n',
      stderr: '',
    });
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url}`),
      [
        `GET ${PROCS}`,
        `GET ${PROCS}/p1`,
        `DELETE ${PROCS}/p1?signal=KILL`,
        `GET ${PROCS}/p1/output?tail=5`,
      ],
    );
  });

  test('killing an ended process is a conflict, and sends TERM by default', async () => {
    const { s, client } = await server((req, res) =>
      replyError(res, 409, 'conflict', 'process p1 has ended (exited)', 'rq'),
    );
    await assert.rejects(client.processes.kill('sb1', 'p1'), ConflictError);
    assert.equal(s.requests.length, 1, 'not retried');
    assert.equal(s.requests[0].url, `${PROCS}/p1?signal=TERM`);
  });

  test('follow yields the output, then the ended process, and stops', async () => {
    const { s, client } = await server((req, res) => {
      sse(res);
      res.end(
        frame('stdout', { data: 'listening\n' }) +
          frame('stderr', { data: 'bye\n' }) +
          frame('exit', ENDED) +
          frame('stdout', { data: 'never read' }),
      );
    });
    const events = await collect(client.processes.follow('sb1', 'p1', { tail: 0 }));
    assert.deepEqual(events, [
      { type: 'stdout', text: 'listening\n' },
      { type: 'stderr', text: 'bye\n' },
      { type: 'exit', process: ENDED },
    ]);
    assert.equal(s.requests[0].url, `${PROCS}/p1/output?follow=true&tail=0`);
    assert.equal(s.requests[0].headers.accept, 'text/event-stream');
  });
});
