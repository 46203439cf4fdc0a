// The event streams that cannot be resumed: a streamed exec and a followed background
// process's output. Their frames have no ids; they end after `exit`. The connection is
// the iteration's: breaking out of it closes the connection (which ends a streamed
// exec's command).

import { ConnectionError, SandboxedError } from './errors.js';
import type { Call, Transport } from './http.js';
import { SseParser } from './sse.js';
import type { SseFrame } from './sse.js';

export interface OutputStreamOptions {
  /** Ends the iteration (it then throws the signal's reason). */
  signal?: AbortSignal;
  /**
   * A stream silent this long is taken as broken; default 30000 ms (sandboxd sends a
   * keepalive every second).
   */
  idleTimeoutMs?: number;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Sends `call` asking for an event stream and yields its frames until the caller stops
 * (after `exit`). Error answers throw typed; a connection that breaks, stays silent for
 * `idleTimeoutMs` or ends first throws ConnectionError. `opened.requestId` is the
 * answer's X-Request-Id once it came.
 */
export async function* streamFrames(
  http: Transport,
  call: Omit<Call, 'options'>,
  what: string,
  options: OutputStreamOptions,
  opened: { requestId?: string } = {},
): AsyncGenerator<SseFrame, void, undefined> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const conn = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, conn.signal]) : conn.signal;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(stall);
    stall = setTimeout(
      () => conn.abort(new Error(`the event stream was silent for ${idleTimeoutMs} ms`)),
      idleTimeoutMs,
    );
  };
  try {
    arm();
    const body = await http.send(
      {
        ...call,
        headers: { ...call.headers, Accept: 'text/event-stream' },
        options: { signal, timeoutMs: 0 },
      },
      async (res) => {
        opened.requestId = res.headers.get('X-Request-Id') ?? undefined;
        return res.body;
      },
    );
    if (body === null) throw new Error('an answer without a body');
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
        yield frame;
        // Frames already read must not outlive an abort.
        options.signal?.throwIfAborted();
      }
    }
    throw new Error('the event stream ended before its exit event');
  } catch (e) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (e instanceof SandboxedError) throw e;
    throw new ConnectionError({
      status: 0,
      code: 'connection_error',
      message: `${what}: ${describe(e)}`,
      requestId: opened.requestId,
      cause: e,
    });
  } finally {
    clearTimeout(stall);
    conn.abort();
  }
}

/** A frame's JSON data; undefined when it is not JSON. */
export function frameData(frame: SseFrame): unknown {
  try {
    return JSON.parse(frame.data);
  } catch {
    return undefined;
  }
}

/** The text of a stdout/stderr frame ({"data": text}). */
export function frameText(frame: SseFrame): string {
  const data = frameData(frame) as { data?: unknown } | undefined;
  return typeof data?.data === 'string' ? data.data : '';
}
