// Integration: agent tasks with the real Claude Code CLI in a real sandbox, against the
// harness's mock model (SANDBOXED_TEST_MODEL_URL): events to done, resuming after an
// abort and after a dropped connection (through a proxy that cuts the stream), cancel.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { ConflictError, NotFoundError, Sandboxed } from '../dist/index.js';
import { purgeAll, skipUnlessLive, uniqueId } from './helpers.mjs';

function claudeTask(prompt) {
  return {
    agent: 'claude',
    model: 'claude-sonnet-4-5',
    prompt,
    env: { ANTHROPIC_BASE_URL: process.env.SANDBOXED_TEST_MODEL_URL, ANTHROPIC_API_KEY: 'sk-mock' },
  };
}

async function collect(iterable) {
  const out = [];
  for await (const e of iterable) out.push(e);
  return out;
}

// Ids 1..n in order, one `done`, at the end.
function assertComplete(events) {
  assert.ok(events.length >= 2, `only ${events.length} events`);
  assert.deepEqual(
    events.map((e) => e.id),
    events.map((_, i) => i + 1),
  );
  assert.equal(events.filter((e) => e.type === 'done').length, 1);
  assert.equal(events.at(-1).type, 'done');
}

/**
 * A proxy to sandboxd that cuts the first event stream it relays right after its first
 * frame (the connection is destroyed mid-stream), and relays everything else whole.
 */
async function cuttingProxy(upstream) {
  const seen = [];
  let cut = false;
  const server = http.createServer(async (req, res) => {
    seen.push({ url: req.url, lastEventId: req.headers['last-event-id'] });
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const up = await fetch(upstream + req.url, { method: req.method, headers });
    const out = Object.fromEntries(
      [...up.headers].filter(
        ([k]) => !['content-length', 'transfer-encoding', 'connection'].includes(k),
      ),
    );
    res.writeHead(up.status, out);
    const cutThis = req.url.endsWith('/events') && !cut;
    cut ||= cutThis;
    let text = '';
    for await (const chunk of up.body) {
      if (!cutThis) {
        res.write(chunk);
        continue;
      }
      text += Buffer.from(chunk).toString();
      const end = text.indexOf('\n\n');
      if (end >= 0) {
        res.write(text.slice(0, end + 2), () => res.socket.destroy());
        return;
      }
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

describe('tasks against sandboxd', { skip: skipUnlessLive }, () => {
  const client = new Sandboxed();
  const id = uniqueId('tst');
  let firstTask;
  let firstEvents;
  after(() => purgeAll(client, [id]));

  before(async () => {
    assert.ok(process.env.SANDBOXED_TEST_MODEL_URL, 'SANDBOXED_TEST_MODEL_URL is not set');
    await client.sandboxes.create({ id, memory: '1g' });
  });

  test('run() follows a Claude Code task through its events to done', async () => {
    const events = [];
    const task = await client.tasks.run(id, claudeTask('Create hello.txt'), {
      onEvent: (e) => events.push(e),
    });
    assertComplete(events);
    assert.equal(events[0].type, 'status');
    assert.equal(events[0].data.phase, 'starting');
    assert.ok(
      events.some(
        (e) => e.type === 'tool' && e.data.name === 'Write' && e.data.status === 'completed',
      ),
      'no completed Write tool event',
    );
    const done = events.at(-1).data;
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.id, task.id);

    assert.equal(task.status, 'succeeded');
    assert.equal(task.agent, 'claude');
    assert.equal(task.failure_reason, null);
    assert.deepEqual(task.files_changed, ['hello.txt']);
    assert.equal(task.final_message, 'MOCK DONE');
    assert.ok(task.usage.output_tokens > 0);
    assert.deepEqual(task.env_keys.sort(), ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL']);
    assert.equal(await client.files.readText(id, 'workspace/app/hello.txt'), 'hello from mock\n');

    assert.deepEqual(await client.tasks.get(id, task.id), task);
    const list = await client.tasks.list(id);
    assert.equal(list[0].id, task.id);
    firstTask = task;
    firstEvents = events;
  });

  test('a stream aborted mid-way resumes from the last id with nothing lost or repeated', async () => {
    assert.ok(firstTask, "needs the first test's task");
    const ctl = new AbortController();
    const head = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.tasks.events(id, firstTask.id, { signal: ctl.signal })) {
          head.push(e);
          if (head.length === 2) ctl.abort(new Error('dropped by the test'));
        }
      })(),
      /dropped by the test/,
    );
    assert.equal(head.length, 2);
    const rest = await collect(
      client.tasks.events(id, firstTask.id, { lastEventId: head.at(-1).id }),
    );
    const all = [...head, ...rest];
    assertComplete(all);
    assert.deepEqual(all, firstEvents);
    // Resumed at done: nothing more.
    assert.deepEqual(
      await collect(client.tasks.events(id, firstTask.id, { lastEventId: all.at(-1).id })),
      [],
    );
  });

  test('a live stream whose connection drops is resumed with Last-Event-ID by events()', async () => {
    const proxy = await cuttingProxy(client.url);
    try {
      const viaProxy = new Sandboxed({ url: proxy.url });
      // SLOW: the mock model holds its first answer, so the stream is live when cut.
      const task = await client.tasks.create(id, claudeTask('SLOW:3 Create hello.txt'));
      const events = await collect(viaProxy.tasks.events(id, task.id));
      assertComplete(events);
      assert.equal(events.at(-1).data.status, 'succeeded');
      const streams = proxy.seen.filter((r) => r.url.endsWith('/events'));
      assert.ok(streams.length >= 2, `the stream was not resumed: ${JSON.stringify(proxy.seen)}`);
      assert.equal(streams[0].lastEventId, undefined);
      assert.equal(streams[1].lastEventId, '1');
      // The same events as a stream read whole.
      assert.deepEqual(events, await collect(client.tasks.events(id, task.id)));
    } finally {
      await proxy.close();
    }
  });

  test('one task at a time; cancel ends it with done (cancelled)', async () => {
    const task = await client.tasks.create(id, claudeTask('SLOW:300 Create hello.txt'));
    assert.equal(task.status, 'running');
    await assert.rejects(client.tasks.create(id, claudeTask('another')), ConflictError);
    const cancelled = await client.tasks.cancel(id, task.id);
    assert.equal(cancelled.cancel_requested, true);
    const finished = await client.tasks.wait(id, task.id);
    assert.equal(finished.status, 'cancelled');
    assert.equal(finished.failure_reason, 'cancelled');
    const events = await collect(client.tasks.events(id, task.id));
    assertComplete(events);
    assert.equal(events.at(-1).data.status, 'cancelled');
  });

  test('an unknown task is a NotFoundError', async () => {
    await assert.rejects(client.tasks.get(id, '01notatask0000000000000000'), NotFoundError);
    await assert.rejects(
      collect(client.tasks.events(id, '01notatask0000000000000000')),
      NotFoundError,
    );
  });
});
