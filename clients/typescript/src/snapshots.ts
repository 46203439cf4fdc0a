import type { RequestOptions, Transport } from './http.js';
import { sandboxPath } from './sandboxes.js';
import type { Sandboxes } from './sandboxes.js';
import type { CreateSandboxRequest, Sandbox, Snapshot, SnapshotList } from './types.js';

function snapshotPath(idOrName: string): string {
  return `/v1/snapshots/${encodeURIComponent(idOrName)}`;
}

/**
 * Snapshots: copies of a sandbox's workspace. Every call takes a snapshot's id or name.
 * Restore and fork are on `sandboxes`.
 */
export class Snapshots {
  constructor(
    private readonly http: Transport,
    private readonly sandboxes: Sandboxes,
  ) {}

  /**
   * POST /v1/sandboxes/{id}/snapshots: 201 the snapshot. A running sandbox is paused for
   * the copy. Not retried but on sandboxd's own 503 (an unnamed one would be taken twice).
   */
  create(sandboxId: string, name?: string, options?: RequestOptions): Promise<Snapshot> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(sandboxId, '/snapshots'),
      json: name === undefined ? {} : { name },
      idempotent: false,
      options,
    });
  }

  /**
   * GET /v1/snapshots: every snapshot and template, oldest first; with `sandboxId`, that
   * sandbox's only (a deleted sandbox's too).
   */
  async list(options: RequestOptions & { sandboxId?: string } = {}): Promise<Snapshot[]> {
    const list = await this.http.json<SnapshotList>({
      method: 'GET',
      path: '/v1/snapshots',
      query: { sandbox_id: options.sandboxId },
      idempotent: true,
      options,
    });
    return list.snapshots;
  }

  /** GET /v1/sandboxes/{id}/snapshots: an existing sandbox's snapshots (404 otherwise). */
  async listForSandbox(sandboxId: string, options?: RequestOptions): Promise<Snapshot[]> {
    const list = await this.http.json<SnapshotList>({
      method: 'GET',
      path: sandboxPath(sandboxId, '/snapshots'),
      idempotent: true,
      options,
    });
    return list.snapshots;
  }

  get(idOrName: string, options?: RequestOptions): Promise<Snapshot> {
    return this.http.json({
      method: 'GET',
      path: snapshotPath(idOrName),
      idempotent: true,
      options,
    });
  }

  /** DELETE /v1/snapshots/{id or name}: 204; a repeat gets NotFoundError. */
  delete(idOrName: string, options?: RequestOptions): Promise<void> {
    return this.http.empty({
      method: 'DELETE',
      path: snapshotPath(idOrName),
      idempotent: false,
      options,
    });
  }

  /** Creates a sandbox whose workspace starts as a copy of the snapshot (or template). */
  createSandbox(
    idOrName: string,
    request: Omit<CreateSandboxRequest, 'snapshot'> = {},
    options?: RequestOptions,
  ): Promise<Sandbox> {
    return this.sandboxes.create({ ...request, snapshot: idOrName }, options);
  }
}
