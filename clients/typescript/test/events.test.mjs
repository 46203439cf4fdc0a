// Unit tests of the SSE parser and of tasks.events() against a local server that drops,
// stalls and ends streams.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { NotFoundError, Sandboxed, SseParser } from '../dist/index.js';
import { eventually, localServers, replyError } from './helpers.mjs';

describe('SseParser', () => {
  const text =
    ': keepalive\r\n\r\nid: 1\r\nevent: status\r\ndata: {"phase":"starting"}\r\n\r\n' +
    'id: 2\nevent: message\ndata: line one\ndata: line two\n\n' +
    'id: 3\rdata:no space\r\r' +
    'event: ignored-without-data\n\n';
  const expected = [
    { id: '1', event: 'status', data: '{"phase":"starting"}' },
    { id: '2', event: 'message', data: 'line one\nline two' },
    { id: '3', event: 'message', data: 'no space' },
  ];

  test('parses CRLF, LF and CR lines, multi-line data and comments', () => {
    assert.deepEqual(new SseParser().push(text), expected);
  });

  test('gives the same frames however the text is split', () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const frames = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(frames, expected, `split at ${cut}`);
    }
    const p = new SseParser();
    assert.deepEqual(
      [...text].flatMap((c) => p.push(c)),
      expected,
      'one character at a time',
    );
  });
});

const EVENTS = '/v1/sandboxes/sb1/tasks/t1/events';
const frame = (id, type, data) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const DONE = {
  id: 't1',
  status: 'succeeded',
  failure_reason: '',
  error: '',
  final_message: 'ok',
  files_changed: [],
  usage: null,
  exit_code: 0,
  duration_ms: 9,
};
const TASK = { id: 't1', sandbox_id: 'sb1', status: 'succeeded' };

function sse(res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
}

describe('tasks.events', () => {
  const start = localServers();
  async function server(handler) {
    const s = await start(handler);
    return { s, client: new Sandboxed({ url: s.url, token: 'tok' }) };
  }
  async function collect(iterable) {
    const out = [];
    for await (const e of iterable) out.push(e);
    return out;
  }

  test('a connection dropped mid-stream is resumed with Last-Event-ID, losing and repeating nothing', async () => {
    const { s, client } = await server((req, res, n) => {
      sse(res);
      if (n === 1) {
        res.write(
          frame(1, 'status', { phase: 'starting' }) + frame(2, 'message', { text: 'a' }),
          () => res.socket.destroy(),
        );
      } else {
        // The server resends event 2: the client must not yield it twice.
        res.end(
          frame(2, 'message', { text: 'a' }) +
            frame(3, 'tool', { name: 'Write' }) +
            frame(4, 'done', DONE),
        );
      }
    });
    const events = await collect(client.tasks.events('sb1', 't1'));
    assert.deepEqual(
      events.map((e) => [e.id, e.type]),
      [
        [1, 'status'],
        [2, 'message'],
        [3, 'tool'],
        [4, 'done'],
      ],
    );
    assert.deepEqual(events[3].data, DONE);
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[0].url, EVENTS);
    assert.equal(s.requests[0].headers['last-event-id'], undefined);
    assert.equal(s.requests[1].headers['last-event-id'], '2');
    assert.equal(s.requests[1].headers.authorization, 'Bearer tok');
  });

  test('a silent stream is taken as broken and resumed', async () => {
    const { s, client } = await server((req, res, n) => {
      sse(res);
      if (n === 1)
        res.write(frame(1, 'status', { phase: 'starting' })); // then nothing
      else res.end(frame(2, 'done', DONE));
    });
    const events = await collect(client.tasks.events('sb1', 't1', { idleTimeoutMs: 300 }));
    assert.deepEqual(
      events.map((e) => e.id),
      [1, 2],
    );
    assert.equal(s.requests[1].headers['last-event-id'], '1');
  });

  test('resumed at or after done, the iteration ends once the task reads finished', async () => {
    const { s, client } = await server((req, res) => {
      if (req.url === EVENTS) {
        sse(res);
        res.end();
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(TASK));
      }
    });
    assert.deepEqual(await collect(client.tasks.events('sb1', 't1', { lastEventId: 4 })), []);
    assert.deepEqual(
      s.requests.map((r) => r.url),
      [EVENTS, '/v1/sandboxes/sb1/tasks/t1'],
    );
    assert.equal(s.requests[0].headers['last-event-id'], '4');
  });

  test('breaking out of the loop closes the connection', async () => {
    let closed = false;
    const { client } = await server((req, res) => {
      sse(res);
      res.write(frame(1, 'status', { phase: 'starting' }));
      res.on('close', () => (closed = true));
    });
    for await (const e of client.tasks.events('sb1', 't1')) {
      assert.equal(e.id, 1);
      break;
    }
    await eventually(() => closed, {
      timeoutMs: 5000,
      what: 'the server to see the stream closed',
    });
  });

  test('an abort stops the iteration even with frames already read', async () => {
    const { client } = await server((req, res) => {
      sse(res);
      res.end(
        frame(1, 'message', { text: 'a' }) +
          frame(2, 'message', { text: 'b' }) +
          frame(3, 'done', DONE),
      );
    });
    const ctl = new AbortController();
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.tasks.events('sb1', 't1', { signal: ctl.signal })) {
          seen.push(e.id);
          ctl.abort(new Error('stop here'));
        }
      })(),
      /stop here/,
    );
    assert.deepEqual(seen, [1]);
  });

  test('an error answer ends the iteration with its typed error', async () => {
    const { s, client } = await server((req, res) =>
      replyError(res, 404, 'not_found', 'task t1 not found', 'rq'),
    );
    await assert.rejects(collect(client.tasks.events('sb1', 't1')), NotFoundError);
    assert.equal(s.requests.length, 1);
  });

  test('wait() hands every event to onEvent and answers the finished task', async () => {
    const { client } = await server((req, res) => {
      if (req.url === EVENTS) {
        sse(res);
        res.end(': keepalive\n\n' + frame(1, 'message', { text: 'hi' }) + frame(2, 'done', DONE));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(TASK));
      }
    });
    const seen = [];
    const task = await client.tasks.wait('sb1', 't1', { onEvent: (e) => seen.push(e.type) });
    assert.deepEqual(seen, ['message', 'done']);
    assert.deepEqual(task, TASK);
  });
});
