// Integration: sandboxes, exec, files and errors against a real sandboxd with real
// containers (run under build/sandboxd_with_daemon).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  InvalidArgumentError,
  NotFoundError,
  Sandboxed,
  SandboxedError,
  UnauthorizedError,
} from '../dist/index.js';
import { eventually, purgeAll, skipUnlessLive, uniqueId } from './helpers.mjs';

describe('sandboxes against sandboxd', { skip: skipUnlessLive }, () => {
  const client = new Sandboxed();
  const created = [];
  const id = uniqueId('tsl');
  after(() => purgeAll(client, created));

  before(async () => {
    created.push(id);
    const sb = await client.sandboxes.create({
      id,
      ports: [3000],
      env: { GREETING: 'hi-env', API_KEY: 'long-secret-value' },
      metadata: { owner: 'user-1', suite: 'lifecycle' },
      idle_policy: 'always_on',
      memory: '512m',
      cpus: 0.5,
    });
    assert.equal(sb.id, id);
    assert.equal(sb.status, 'running');
    assert.deepEqual(sb.ports, [3000]);
    assert.deepEqual(sb.env_keys, ['API_KEY', 'GREETING']);
    assert.equal(sb.idle_policy, 'always_on');
    assert.equal(sb.limits.memory_bytes, 512 * 1024 * 1024);
    assert.equal(sb.limits.cpus, 0.5);
    assert.match(sb.previews[0].url, new RegExp(`^https?://s-${id}-3000\\.preview\\.`));
  });

  test('version names the API', async () => {
    const v = await client.version();
    assert.equal(v.api_version, 'v1');
    assert.match(v.version, /^\d+\.\d+\.\d+/);
  });

  test('ready() is true for a daemon that answers', async () => {
    assert.equal(await client.ready(), true);
  });

  test('get shows the sandbox with its metadata, app, idle and usage', async () => {
    const sb = await client.sandboxes.get(id);
    assert.equal(sb.status, 'running');
    assert.deepEqual(sb.metadata, { owner: 'user-1', suite: 'lifecycle' });
    assert.deepEqual(sb.pending_restart, []);
    assert.equal(typeof sb.app.state, 'string');
    assert.equal(typeof sb.idle.reason, 'string');
    assert.ok('disk_used_bytes' in sb.usage);
  });

  test('exec gives the exit code, stdout and stderr, and the sandbox env (long values masked)', async () => {
    const r = await client.sandboxes.exec(id, {
      cmd: ['bash', '-c', 'echo "out:$GREETING:$CALL:$API_KEY"; echo err >&2; exit 3'],
      env: { CALL: 'x1' },
    });
    assert.equal(r.exit_code, 3);
    assert.equal(r.stdout, 'out:hi-env:x1:***\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.timed_out, false);
    assert.equal(r.truncated, false);
    const ok = await client.sandboxes.exec(id, { cmd: ['pwd'] });
    assert.equal(ok.exit_code, 0);
    assert.equal(ok.stdout.trim(), '/home/sandbox/workspace/app');
  });

  test('exec past its timeout_s is killed and says timed_out', async () => {
    const started = Date.now();
    const r = await client.sandboxes.exec(id, { cmd: ['sleep', '60'], timeout_s: 1 });
    assert.equal(r.timed_out, true);
    assert.notEqual(r.exit_code, 0);
    assert.ok(Date.now() - started < 30_000);
  });

  test('files round trip: text, binary, listing and delete', async () => {
    const text = 'héllo wörld\nline 2\n';
    const w = await client.files.write(id, 'workspace/app/data/hello.txt', text);
    assert.deepEqual(w, {
      path: 'workspace/app/data/hello.txt',
      bytes_written: Buffer.byteLength(text),
      appended: false,
    });
    await client.files.write(id, 'workspace/app/data/hello.txt', 'more\n', { append: true });
    assert.equal(await client.files.readText(id, 'workspace/app/data/hello.txt'), `${text}more\n`);
    const node = await client.files.get(id, 'workspace/app/data/hello.txt');
    assert.equal(node.type, 'file');
    assert.equal(node.encoding, 'utf8');
    assert.equal(node.content, `${text}more\n`);

    const bytes = new Uint8Array(256).map((_, i) => i); // not valid UTF-8
    const wb = await client.files.write(id, 'workspace/app/data/all.bin', bytes);
    assert.equal(wb.bytes_written, 256);
    assert.deepEqual(await client.files.readBytes(id, 'workspace/app/data/all.bin'), bytes);
    const bin = await client.files.get(id, 'workspace/app/data/all.bin');
    assert.equal(bin.encoding, 'base64');
    assert.deepEqual(new Uint8Array(Buffer.from(bin.content, 'base64')), bytes);
    // The sandbox sees the same bytes.
    const sum = await client.sandboxes.exec(id, {
      cmd: ['sh', '-c', 'wc -c < data/all.bin; head -c 3 data/all.bin | od -An -tu1'],
    });
    assert.deepEqual(sum.stdout.split(/\s+/).filter(Boolean), ['256', '0', '1', '2']);

    const dir = await client.files.list(id, 'workspace/app/data');
    assert.equal(dir.type, 'dir');
    assert.deepEqual(dir.entries.map((e) => [e.name, e.type, e.size]).sort(), [
      ['all.bin', 'file', 256],
      ['hello.txt', 'file', Buffer.byteLength(text) + 5],
    ]);
    await assert.rejects(client.files.list(id, 'workspace/app/data/all.bin'), SandboxedError);

    await client.files.delete(id, 'workspace/app/data/all.bin');
    await assert.rejects(client.files.readBytes(id, 'workspace/app/data/all.bin'), NotFoundError);
    assert.deepEqual(
      (await client.files.list(id, 'workspace/app/data')).entries.map((e) => e.name),
      ['hello.txt'],
    );
  });

  test('the app starts from sandbox.json: waitForApp sees it listen and logs show its output', async () => {
    await client.files.write(
      id,
      'workspace/app/server.js',
      'require("http").createServer((q, s) => s.end("hi")).listen(process.env.PORT, () => console.log("LISTENING-MARK"));\n',
    );
    await client.files.write(
      id,
      'workspace/app/sandbox.json',
      JSON.stringify({ command: 'node server.js', port: 3000 }),
    );
    const sb = await client.sandboxes.waitForApp(id, { waitMs: 60_000 });
    assert.equal(sb.app.state, 'listening', JSON.stringify(sb.app));
    assert.equal(sb.app.port, 3000);
    await eventually(
      async () => (await client.sandboxes.logs(id, { tail: 4096 })).includes('LISTENING-MARK'),
      {
        what: 'the app output in the logs',
      },
    );
  });

  test('keepalive holds the sandbox until a time it shows', async () => {
    const sb = await client.sandboxes.keepalive(id, 600);
    assert.ok(sb.keepalive_until !== null);
    const until = Date.parse(sb.keepalive_until);
    assert.ok(until > Date.now() + 60_000, sb.keepalive_until);
  });

  test('stop then start, both idempotent', async () => {
    assert.equal((await client.sandboxes.stop(id)).status, 'stopped');
    assert.equal((await client.sandboxes.stop(id)).status, 'stopped');
    assert.equal((await client.sandboxes.get(id)).status, 'stopped');
    const started = await client.sandboxes.start(id, { waitForApp: 30 });
    assert.equal(started.status, 'running');
    assert.equal(started.app.state, 'listening');
    assert.equal((await client.sandboxes.start(id)).status, 'running');
  });

  test('a missing sandbox is a NotFoundError with code, message and request id', async () => {
    await assert.rejects(client.sandboxes.get('nosuchsandbox0'), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'not_found');
      assert.match(e.message, /nosuchsandbox0/);
      assert.match(e.requestId, /^[A-Za-z0-9._-]{1,64}$/);
      return true;
    });
    await assert.rejects(
      client.sandboxes.get('nosuchsandbox0', { requestId: 'sdk-test-42' }),
      (e) => {
        assert.equal(e.requestId, 'sdk-test-42');
        return true;
      },
    );
  });

  test('an unknown body field is an InvalidArgumentError naming it, and nothing is created', async () => {
    const bad = uniqueId('tsbad');
    created.push(bad);
    await assert.rejects(client.sandboxes.create({ id: bad, colour: 'blue' }), (e) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_request');
      assert.match(e.message, /colour: unknown field/);
      return true;
    });
    await assert.rejects(client.sandboxes.get(bad), NotFoundError);
  });

  test('a wrong token is an UnauthorizedError', async () => {
    const wrong = new Sandboxed({ token: 'not-the-token-at-all' });
    await assert.rejects(
      wrong.sandboxes.get(id),
      (e) => e instanceof UnauthorizedError && e.code === 'unauthorized',
    );
  });

  test('delete keeps the workspace: the same id comes back with its files; purge removes them', async () => {
    const other = uniqueId('tsdel');
    created.push(other);
    await client.sandboxes.create({ id: other });
    await client.files.write(other, 'workspace/app/keep.txt', 'kept');
    await client.sandboxes.delete(other);
    await client.sandboxes.delete(other); // idempotent
    await assert.rejects(client.sandboxes.get(other), NotFoundError);
    await client.sandboxes.create({ id: other });
    assert.equal(await client.files.readText(other, 'workspace/app/keep.txt'), 'kept');
    const purged = await client.sandboxes.purge(other);
    assert.equal(purged.purged, true);
    await assert.rejects(client.sandboxes.get(other), NotFoundError);
    await client.sandboxes.create({ id: other });
    await assert.rejects(client.files.readText(other, 'workspace/app/keep.txt'), NotFoundError);
  });
});

describe('metadata, filters and PATCH against sandboxd', { skip: skipUnlessLive }, () => {
  const client = new Sandboxed();
  const tag = uniqueId('run');
  const ids = [uniqueId('tsma'), uniqueId('tsmb'), uniqueId('tsmc')].sort();
  after(() => purgeAll(client, [...ids]));

  before(async () => {
    await client.sandboxes.create({ id: ids[0], metadata: { suite: tag, n: '1' } });
    await client.sandboxes.create({ id: ids[1], metadata: { suite: tag, n: '2' } });
    await client.sandboxes.create({ id: ids[2], metadata: { suite: 'other' } });
  });

  async function listIds(options) {
    const out = [];
    for await (const sb of client.sandboxes.list(options)) out.push(sb.id);
    return out;
  }

  test('list filters by metadata (every pair must match) and pages through', async () => {
    assert.deepEqual(await listIds({ metadata: { suite: tag } }), [ids[0], ids[1]]);
    assert.deepEqual(await listIds({ metadata: { suite: tag, n: '2' } }), [ids[1]]);
    assert.deepEqual(await listIds({ metadata: { suite: tag, n: '3' } }), []);
    // One per page: the iterator follows next_after.
    const page = await client.sandboxes.listPage({ metadata: { suite: tag }, limit: 1 });
    assert.deepEqual(
      page.sandboxes.map((s) => s.id),
      [ids[0]],
    );
    assert.equal(page.next_after, ids[0]);
    assert.deepEqual(await listIds({ metadata: { suite: tag }, limit: 1 }), [ids[0], ids[1]]);
    const all = await listIds({ limit: 2 });
    for (const id of ids) assert.ok(all.includes(id), `${id} missing from the unfiltered list`);
  });

  test('list filters by status', async () => {
    await client.sandboxes.stop(ids[1]);
    assert.deepEqual(await listIds({ metadata: { suite: tag }, status: 'stopped' }), [ids[1]]);
    assert.deepEqual(await listIds({ metadata: { suite: tag }, status: 'running' }), [ids[0]]);
    await client.sandboxes.start(ids[1]);
  });

  test('PATCH merges metadata (null removes), sets idle_policy and env at once', async () => {
    const sb = await client.sandboxes.update(ids[0], {
      metadata: { n: null, team: 'blue' },
      idle_policy: 'always_on',
      env: { ADDED: 'yes' },
    });
    assert.deepEqual(sb.metadata, { suite: tag, team: 'blue' });
    assert.equal(sb.idle_policy, 'always_on');
    assert.ok(sb.env_keys.includes('ADDED'));
    assert.deepEqual((await client.sandboxes.get(ids[0])).metadata, { suite: tag, team: 'blue' });
    assert.deepEqual(await listIds({ metadata: { team: 'blue', suite: tag } }), [ids[0]]);
    const r = await client.sandboxes.exec(ids[0], { cmd: ['sh', '-c', 'echo "$ADDED"'] });
    assert.equal(r.stdout, 'yes\n');
  });

  test('PATCH of a limit waits for the next start (pending_restart)', async () => {
    const sb = await client.sandboxes.update(ids[1], { memory: '768m' });
    assert.deepEqual(sb.pending_restart, ['memory']);
    await client.sandboxes.stop(ids[1]);
    const started = await client.sandboxes.start(ids[1]);
    assert.deepEqual(started.pending_restart, []);
    assert.equal(started.limits.memory_bytes, 768 * 1024 * 1024);
  });

  test('PATCH refuses disk and unknown fields with InvalidArgumentError', async () => {
    await assert.rejects(client.sandboxes.update(ids[2], { disk: '8g' }), InvalidArgumentError);
    await assert.rejects(client.sandboxes.update(ids[2], { colour: 'red' }), InvalidArgumentError);
    await assert.rejects(
      client.sandboxes.update('nosuchsandbox0', { metadata: { a: 'b' } }),
      NotFoundError,
    );
    assert.deepEqual((await client.sandboxes.get(ids[2])).metadata, { suite: 'other' });
  });

  test('bad metadata is refused at create', async () => {
    const bad = [uniqueId('tsbad'), uniqueId('tsbad')];
    ids.push(...bad);
    await assert.rejects(
      client.sandboxes.create({ id: bad[0], metadata: { '-bad': 'x' } }),
      InvalidArgumentError,
    );
    await assert.rejects(
      client.sandboxes.create({ id: bad[1], metadata: { ok: 'x'.repeat(257) } }),
      InvalidArgumentError,
    );
    await assert.rejects(client.sandboxes.get(bad[0]), NotFoundError);
  });
});
