import { errorClassFor } from './errors.js';
import type { RequestOptions, Transport } from './http.js';
import { sleep } from './http.js';
import { frameData, frameText, streamFrames } from './output.js';
import type { OutputStreamOptions } from './output.js';
import type {
  CreateSandboxRequest,
  ExecErrorEvent,
  ExecEvent,
  ExecExitEvent,
  ExecRequest,
  ExecResult,
  ForkRequest,
  Process,
  PurgeResult,
  Sandbox,
  SandboxList,
  SandboxStatus,
  SandboxSummary,
  UpdateSandboxRequest,
} from './types.js';

export interface ListSandboxesOptions extends RequestOptions {
  status?: SandboxStatus;
  /** Only sandboxes whose metadata has every one of these key/value pairs. */
  metadata?: Record<string, string>;
  /** Page size, 1-1000 (server default 100). */
  limit?: number;
  /** The cursor: the page starts after this id. */
  after?: string;
}

export interface WaitForAppOptions extends RequestOptions {
  /** How long to poll; default 30000 ms. */
  waitMs?: number;
  /** Between polls; default 500 ms. */
  intervalMs?: number;
}

/** The path of a sandbox (or a route under it). */
export function sandboxPath(id: string, rest = ''): string {
  return `/v1/sandboxes/${encodeURIComponent(id)}${rest}`;
}

// The seconds that a server-side wait_for_app holds the answer back.
function waitSeconds(w: boolean | number | undefined): number {
  if (w === true) return 30;
  return typeof w === 'number' ? w : 0;
}

/** Sandboxes: lifecycle, settings, exec and logs. */
export class Sandboxes {
  constructor(private readonly http: Transport) {}

  /** POST /v1/sandboxes: 201 the new sandbox. Not retried but on sandboxd's own 503. */
  create(request: CreateSandboxRequest = {}, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json<Sandbox>({
      method: 'POST',
      path: '/v1/sandboxes',
      json: request,
      idempotent: false,
      options,
      extraTimeoutMs: waitSeconds(request.wait_for_app) * 1000,
    });
  }

  /** GET /v1/sandboxes/{id}: with `app`, `usage` and `idle`. */
  get(id: string, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({ method: 'GET', path: sandboxPath(id), idempotent: true, options });
  }

  /** One page of GET /v1/sandboxes, ordered by id. */
  listPage(options: ListSandboxesOptions = {}): Promise<SandboxList> {
    const query = new URLSearchParams();
    if (options.status !== undefined) query.set('status', options.status);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.after !== undefined) query.set('after', options.after);
    for (const [k, v] of Object.entries(options.metadata ?? {})) query.append(`metadata.${k}`, v);
    return this.http.json({
      method: 'GET',
      path: '/v1/sandboxes',
      query,
      idempotent: true,
      options,
    });
  }

  /** Every matching sandbox, fetching page after page (`limit` is the page size). */
  async *list(options: ListSandboxesOptions = {}): AsyncGenerator<SandboxSummary, void, undefined> {
    let after = options.after;
    for (;;) {
      const page = await this.listPage({ ...options, after });
      yield* page.sandboxes;
      if (page.next_after === null || page.sandboxes.length === 0) return;
      after = page.next_after;
    }
  }

  /**
   * PATCH /v1/sandboxes/{id}: metadata and env merge (null removes a key), ports replace.
   * Limits wait for the next start: see the answer's `pending_restart`.
   */
  update(id: string, patch: UpdateSandboxRequest, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({
      method: 'PATCH',
      path: sandboxPath(id),
      json: patch,
      idempotent: true,
      options,
    });
  }

  /** POST .../stop: 200 the stopped sandbox; its files stay. Idempotent. */
  stop(id: string, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/stop'),
      idempotent: true,
      options,
    });
  }

  /**
   * POST .../start: 200 the running sandbox. With `waitForApp` (seconds, 1-300) the answer
   * comes once the app listens, crashed or has nothing to run. Idempotent.
   */
  start(id: string, options: RequestOptions & { waitForApp?: number } = {}): Promise<Sandbox> {
    const wait = options.waitForApp ?? 0;
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/start'),
      query: { wait_for_app: wait > 0 ? wait : undefined },
      idempotent: true,
      options,
      extraTimeoutMs: wait * 1000,
    });
  }

  /** POST .../keepalive: holds off the idle reaper for `seconds` (capped by the server). */
  keepalive(id: string, seconds?: number, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/keepalive'),
      json: seconds === undefined ? {} : { seconds },
      idempotent: true,
      options,
    });
  }

  /** DELETE: removes the container and the row, keeps the workspace. Idempotent. */
  delete(id: string, options?: RequestOptions): Promise<void> {
    return this.http.empty({ method: 'DELETE', path: sandboxPath(id), idempotent: true, options });
  }

  /** POST .../purge: removes everything, workspace and tasks included. Idempotent. */
  purge(id: string, options?: RequestOptions): Promise<PurgeResult> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/purge'),
      idempotent: true,
      options,
    });
  }

  /** GET .../logs: the end of the dev server's log (`tail` bytes, default 65536). */
  logs(id: string, options: RequestOptions & { tail?: number } = {}): Promise<string> {
    return this.http.text({
      method: 'GET',
      path: sandboxPath(id, '/logs'),
      query: { tail: options.tail },
      idempotent: true,
      options,
    });
  }

  /**
   * POST .../exec: runs `cmd` (an argv array) and answers its result. HTTP success only
   * means it ran: check `exit_code` and `timed_out`. With `background: true` it answers
   * at once with the running Process (see `processes`). Not retried but on sandboxd's own
   * 503 (a retry would run it again). The request waits at least the exec's timeout.
   */
  exec(
    id: string,
    request: ExecRequest & { background: true },
    options?: RequestOptions,
  ): Promise<Process>;
  exec(
    id: string,
    request: ExecRequest & { background?: false },
    options?: RequestOptions,
  ): Promise<ExecResult>;
  exec(id: string, request: ExecRequest, options?: RequestOptions): Promise<ExecResult | Process>;
  exec(id: string, request: ExecRequest, options?: RequestOptions): Promise<ExecResult | Process> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/exec'),
      json: request,
      idempotent: false,
      options,
      minTimeoutMs: request.background ? 0 : ((request.timeout_s ?? 300) + 30) * 1000,
    });
  }

  /**
   * POST .../exec as an event stream: `stdout` and `stderr` pieces as the command writes
   * them, then `exit` (its exit_code, timed_out, duration_ms). Breaking out of the loop
   * (or `signal`) closes the connection, which ends the command. An engine failure
   * mid-way throws its typed error; a broken connection throws ConnectionError (a
   * streamed exec cannot be resumed). Not retried but on sandboxd's own 503.
   */
  async *execStream(
    id: string,
    request: Omit<ExecRequest, 'background'>,
    options: OutputStreamOptions = {},
  ): AsyncGenerator<ExecEvent, void, undefined> {
    const what = `exec in sandbox ${id}`;
    const opened: { requestId?: string } = {};
    const call = {
      method: 'POST',
      path: sandboxPath(id, '/exec'),
      json: request,
      idempotent: false,
    } as const;
    for await (const frame of streamFrames(this.http, call, what, options, opened)) {
      if (frame.event === 'stdout' || frame.event === 'stderr') {
        yield { type: frame.event, text: frameText(frame) };
      } else if (frame.event === 'exit') {
        yield { type: 'exit', exit: frameData(frame) as ExecExitEvent };
        return;
      } else if (frame.event === 'error') {
        const err = (frameData(frame) as Partial<ExecErrorEvent> | undefined)?.error;
        const Class = errorClassFor(0, err?.code);
        throw new Class({
          status: 0,
          code: err?.code ?? 'internal',
          message: `${what}: ${err?.message ?? frame.data}`,
          requestId: opened.requestId,
        });
      }
    }
  }

  /**
   * Polls the sandbox until its app listens or crashed, or `waitMs` passes; answers the
   * sandbox as last read (its `app` says which). Unlike `wait_for_app`, starts nothing.
   */
  async waitForApp(id: string, options: WaitForAppOptions = {}): Promise<Sandbox> {
    const deadline = Date.now() + (options.waitMs ?? 30_000);
    for (;;) {
      const sandbox = await this.get(id, options);
      const state = sandbox.app?.state;
      if (state === 'listening' || state === 'crashed' || Date.now() >= deadline) return sandbox;
      await sleep(
        Math.min(options.intervalMs ?? 500, Math.max(0, deadline - Date.now())),
        options.signal,
      );
    }
  }

  /**
   * POST .../fork: 201 a new sandbox with this one's settings, env and a copy of its
   * files. Not retried but on sandboxd's own 503.
   */
  fork(id: string, request: ForkRequest = {}, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/fork'),
      json: request,
      idempotent: false,
      options,
    });
  }

  /** POST .../restore: the workspace's files become the snapshot's. Idempotent. */
  restore(id: string, snapshot: string, options?: RequestOptions): Promise<Sandbox> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(id, '/restore'),
      json: { snapshot },
      idempotent: true,
      options,
    });
  }
}
