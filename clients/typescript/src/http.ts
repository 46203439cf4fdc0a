// The transport: one request to sandboxd with auth, timeouts, typed errors and retries.
//
// Retries (at most `maxRetries` more attempts):
// - a 503 is retried after its Retry-After (capped at `maxRetryDelayMs`) when the request
//   is idempotent, or when the 503 is sandboxd's own JSON error ("unavailable"): sandboxd
//   answers 503 only for work it refused before doing anything. A 503 from something
//   in between (a proxy) on a non-idempotent request is not retried.
// - a connection error (no answer) is retried for idempotent requests only: GETs and the
//   calls sandboxd documents as safe to repeat (stop, start, DELETE, purge, ...).
// A client-side timeout is never retried: the server may still be working.

import { ConnectionError, RequestTimeoutError, SandboxedError, errorClassFor } from './errors.js';

export const SDK_VERSION = '0.1.0';

export interface ClientOptions {
  /** sandboxd's base URL; default env SANDBOXD_URL, else http://127.0.0.1:9090. */
  url?: string;
  /** A bearer token's secret; default env SANDBOXD_TOKEN. */
  token?: string;
  /** Per-attempt timeout of a request in ms (0: none); default 120000. */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure; default 3. */
  maxRetries?: number;
  /** The longest wait before one retry, in ms; default 30000. */
  maxRetryDelayMs?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** A fetch implementation; default the global fetch. */
  fetch?: typeof fetch;
}

/** Options every call takes. */
export interface RequestOptions {
  /** Cancels the call, its retries and waits. */
  signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout (0: none). */
  timeoutMs?: number;
  /** Overrides the client's maxRetries. */
  maxRetries?: number;
  /** Sent as X-Request-Id (up to 64 of [A-Za-z0-9-_.]); sandboxd echoes it and logs under it. */
  requestId?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query | URLSearchParams;
  /** A JSON body (sent as application/json). */
  json?: unknown;
  /** A raw body (sent as application/octet-stream). */
  bytes?: Uint8Array;
  headers?: Record<string, string>;
  /** Safe to repeat after a lost connection or any 503. */
  idempotent: boolean;
  options?: RequestOptions;
  /** A lower bound for the per-attempt timeout (e.g. an exec's own timeout). */
  minTimeoutMs?: number;
  /** Added to the per-attempt timeout (e.g. a server-side wait). */
  extraTimeoutMs?: number;
}

/** Milliseconds to wait for a Retry-After header value (seconds or an HTTP date). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with jitter: about 0.5 s, 1 s, 2 s... capped at `cap`. */
export function backoffMs(attempt: number, cap: number): number {
  const base = Math.min(cap, 500 * 2 ** attempt);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

function envVar(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

export class Transport {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly maxRetries: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions = {}) {
    const url = options.url ?? envVar('SANDBOXD_URL') ?? 'http://127.0.0.1:9090';
    this.baseUrl = url.replace(/\/+$/, '');
    this.token = options.token ?? envVar('SANDBOXD_TOKEN');
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.headers = options.headers ?? {};
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  url(path: string, query?: Query | URLSearchParams): string {
    let qs = '';
    if (query instanceof URLSearchParams) {
      qs = query.toString();
    } else if (query) {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) p.append(k, String(v));
      qs = p.toString();
    }
    return this.baseUrl + path + (qs ? `?${qs}` : '');
  }

  /**
   * Sends `call` (retrying as the header comment says) and returns the 2xx response with
   * its body unread, or throws a SandboxedError (or the caller's abort reason).
   * `read` consumes the body under the same timeout.
   */
  async send<T>(call: Call, read: (res: Response) => Promise<T>): Promise<T> {
    const opts = call.options ?? {};
    const max = opts.maxRetries ?? this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let wait: number;
      try {
        return await this.attempt(call, read);
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (!(e instanceof SandboxedError) || attempt >= max) throw e;
        if (e instanceof ConnectionError && call.idempotent) {
          wait = backoffMs(attempt, this.maxRetryDelayMs);
        } else if (e.status === 503 && (call.idempotent || isServerRefusal(e))) {
          const after = e.retryAfter === undefined ? undefined : e.retryAfter * 1000;
          wait = Math.min(after ?? backoffMs(attempt, this.maxRetryDelayMs), this.maxRetryDelayMs);
        } else {
          throw e;
        }
      }
      await sleep(wait, opts.signal);
    }
  }

  private async attempt<T>(call: Call, read: (res: Response) => Promise<T>): Promise<T> {
    const opts = call.options ?? {};
    const base = opts.timeoutMs ?? this.timeoutMs; // 0: none
    const timeoutMs =
      base === 0 ? 0 : Math.max(base + (call.extraTimeoutMs ?? 0), call.minTimeoutMs ?? 0);
    const timer = new AbortController();
    const handle =
      timeoutMs > 0
        ? setTimeout(() => timer.abort(new Error('request timeout')), timeoutMs)
        : undefined;
    const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
    const headers: Record<string, string> = {
      'User-Agent': `sandboxed-sdk-typescript/${SDK_VERSION}`,
      Accept: 'application/json',
      ...this.headers,
      ...call.headers,
    };
    if (this.token !== undefined) headers['Authorization'] = `Bearer ${this.token}`;
    if (opts.requestId !== undefined) headers['X-Request-Id'] = opts.requestId;
    let body: string | Uint8Array | undefined;
    if (call.bytes !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
      body = call.bytes;
    } else if (call.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(call.json);
    }
    const where = `${call.method} ${call.path}`;
    try {
      const res = await this.fetchImpl(this.url(call.path, call.query), {
        method: call.method,
        headers,
        body,
        signal,
      });
      if (!res.ok) throw await errorFrom(res);
      return await read(res);
    } catch (e) {
      if (e instanceof SandboxedError) throw e;
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timer.signal.aborted) {
        throw new RequestTimeoutError({
          status: 0,
          code: 'request_timeout',
          message: `${where}: no answer within ${timeoutMs} ms`,
          cause: e,
        });
      }
      throw new ConnectionError({
        status: 0,
        code: 'connection_error',
        message: `${where}: ${describe(e)}`,
        cause: e,
      });
    } finally {
      if (handle !== undefined) clearTimeout(handle);
    }
  }

  json<T>(call: Call): Promise<T> {
    return this.send(call, async (res) => {
      const text = await res.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new SandboxedError({
          status: res.status,
          code: 'invalid_response',
          message: `${call.method} ${call.path}: the answer is not JSON: ${text.slice(0, 200)}`,
          requestId: res.headers.get('X-Request-Id') ?? undefined,
        });
      }
    });
  }

  text(call: Call): Promise<string> {
    return this.send(call, (res) => res.text());
  }

  bytes(call: Call): Promise<Uint8Array> {
    return this.send(call, async (res) => new Uint8Array(await res.arrayBuffer()));
  }

  empty(call: Call): Promise<void> {
    return this.send(call, async (res) => {
      await res.arrayBuffer();
    });
  }
}

// Errors whose answer was sandboxd's own JSON error body (not, say, a proxy's page).
const fromSandboxd = new WeakSet<SandboxedError>();

/** A 503 that sandboxd itself sent: it refused before doing anything. */
function isServerRefusal(e: SandboxedError): boolean {
  return fromSandboxd.has(e);
}

/** The typed error for a non-2xx answer (reads its body). */
export async function errorFrom(res: Response): Promise<SandboxedError> {
  const text = await res.text().catch(() => '');
  let code: string | undefined;
  let message: string | undefined;
  let requestId = res.headers.get('X-Request-Id') ?? undefined;
  let fromServer = false;
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; request_id?: unknown };
    };
    const err = body?.error;
    if (err && typeof err.code === 'string') {
      code = err.code;
      fromServer = true;
      if (typeof err.message === 'string') message = err.message;
      if (typeof err.request_id === 'string' && err.request_id !== '') requestId = err.request_id;
    }
  } catch {
    // Not sandboxd's JSON (e.g. a proxy's page): typed by the status alone.
  }
  const Class = errorClassFor(res.status, code);
  const after = retryAfterMs(res.headers.get('Retry-After'));
  const error = new Class({
    status: res.status,
    code: code ?? `http_${res.status}`,
    message: message ?? (text.trim().slice(0, 200) || `HTTP ${res.status} ${res.statusText}`),
    requestId,
    retryAfter: after === undefined ? undefined : after / 1000,
  });
  if (fromServer) fromSandboxd.add(error);
  return error;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}
