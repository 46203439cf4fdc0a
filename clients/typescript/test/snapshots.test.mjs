// Integration: snapshots, restore, fork and create-from-snapshot against a real sandboxd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ConflictError, NotFoundError, Sandboxed } from '../dist/index.js';
import { purgeAll, skipUnlessLive, uniqueId } from './helpers.mjs';

describe('snapshots against sandboxd', { skip: skipUnlessLive }, () => {
  const client = new Sandboxed();
  const source = uniqueId('tss');
  const fork = uniqueId('tsf');
  const copy = uniqueId('tsc');
  const never = uniqueId('tsn');
  const name = `sdk-${uniqueId('snap')}`;
  const snapshots = [];
  let snap;

  after(async () => {
    for (const s of snapshots) {
      try {
        await client.snapshots.delete(s);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    await purgeAll(client, [source, fork, copy, never]);
  });

  before(async () => {
    await client.sandboxes.create({
      id: source,
      ports: [3000],
      env: { SECRET_KEY: 'value-of-the-key' },
    });
    await client.files.write(source, 'workspace/app/state.txt', 'v1');
  });

  test('create a named snapshot, then get it by name and id, and find it in the lists', async () => {
    snap = await client.snapshots.create(source, name);
    snapshots.push(snap.id);
    assert.equal(snap.name, name);
    assert.equal(snap.sandbox_id, source);
    assert.equal(snap.template, false);
    assert.ok(snap.files >= 1);
    assert.deepEqual(await client.snapshots.get(name), snap);
    assert.deepEqual(await client.snapshots.get(snap.id), snap);
    assert.deepEqual(await client.snapshots.listForSandbox(source), [snap]);
    assert.deepEqual(await client.snapshots.list({ sandboxId: source }), [snap]);
    assert.ok((await client.snapshots.list()).some((s) => s.id === snap.id));
    await assert.rejects(client.snapshots.create(source, name), ConflictError);
  });

  test("restore brings the snapshot's files back", async () => {
    await client.files.write(source, 'workspace/app/state.txt', 'v2');
    await client.files.write(source, 'workspace/app/later.txt', 'later');
    const sb = await client.sandboxes.restore(source, name);
    assert.equal(sb.id, source);
    assert.equal(await client.files.readText(source, 'workspace/app/state.txt'), 'v1');
    await assert.rejects(client.files.readText(source, 'workspace/app/later.txt'), NotFoundError);
  });

  test('fork makes a new sandbox with the settings, env and files', async () => {
    const sb = await client.sandboxes.fork(source, { id: fork });
    assert.equal(sb.id, fork);
    assert.deepEqual(sb.ports, [3000]);
    assert.deepEqual(sb.env_keys, ['SECRET_KEY']);
    assert.equal(await client.files.readText(fork, 'workspace/app/state.txt'), 'v1');
    // The copy is its own: a change in the fork leaves the source alone.
    await client.files.write(fork, 'workspace/app/state.txt', 'forked');
    assert.equal(await client.files.readText(source, 'workspace/app/state.txt'), 'v1');
  });

  test('a sandbox created from the snapshot starts with its files', async () => {
    const sb = await client.snapshots.createSandbox(name, { id: copy });
    assert.equal(sb.id, copy);
    assert.equal(await client.files.readText(copy, 'workspace/app/state.txt'), 'v1');
  });

  test('delete removes the snapshot; a repeat is NotFoundError', async () => {
    await client.snapshots.delete(name);
    await assert.rejects(client.snapshots.get(snap.id), NotFoundError);
    await assert.rejects(client.snapshots.delete(name), NotFoundError);
    assert.deepEqual(await client.snapshots.listForSandbox(source), []);
    await assert.rejects(client.snapshots.createSandbox(name, { id: never }), NotFoundError);
  });
});
