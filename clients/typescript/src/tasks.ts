import { ConnectionError, SandboxedError } from './errors.js';
import type { RequestOptions, Transport } from './http.js';
import { backoffMs, sleep } from './http.js';
import { sandboxPath } from './sandboxes.js';
import { SseParser } from './sse.js';
import type { SseFrame } from './sse.js';
import type { CreateTaskRequest, Task, TaskEvent, TaskList } from './types.js';

export interface EventsOptions {
  /** Start after this event id (as Last-Event-ID); 0 or absent: from the first event. */
  lastEventId?: number;
  /** Ends the iteration (it then throws the signal's reason). */
  signal?: AbortSignal;
  /** Reconnects in a row without a new event before giving up; default 5. */
  maxReconnects?: number;
  /**
   * A stream silent this long is taken as broken and resumed; default 45000 ms
   * (sandboxd sends a keepalive every 15 s).
   */
  idleTimeoutMs?: number;
}

export interface WaitOptions extends EventsOptions {
  /** Called with every event, `done` included, in order. */
  onEvent?: (event: TaskEvent) => void | Promise<void>;
}

function taskPath(sandboxId: string, taskId: string, rest = ''): string {
  return sandboxPath(sandboxId, `/tasks/${encodeURIComponent(taskId)}${rest}`);
}

// A frame as a typed event; undefined for a frame without a numeric id or JSON data.
function toEvent(frame: SseFrame): TaskEvent | undefined {
  const id = Number(frame.id);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  try {
    return { id, type: frame.event, data: JSON.parse(frame.data) } as TaskEvent;
  } catch {
    return undefined;
  }
}

// Why a stream was taken as broken (besides the connection's own errors).
class StreamBroken extends Error {}

/** Agent tasks: one running task per sandbox. */
export class Tasks {
  constructor(private readonly http: Transport) {}

  /**
   * POST .../tasks: 202 the running task. Not retried but on sandboxd's own 503 (a
   * retry could start a second task).
   */
  create(sandboxId: string, request: CreateTaskRequest, options?: RequestOptions): Promise<Task> {
    return this.http.json({
      method: 'POST',
      path: sandboxPath(sandboxId, '/tasks'),
      json: request,
      idempotent: false,
      options,
    });
  }

  get(sandboxId: string, taskId: string, options?: RequestOptions): Promise<Task> {
    return this.http.json({
      method: 'GET',
      path: taskPath(sandboxId, taskId),
      idempotent: true,
      options,
    });
  }

  /** The sandbox's tasks, newest first (at most 100). */
  async list(sandboxId: string, options?: RequestOptions): Promise<Task[]> {
    const list = await this.http.json<TaskList>({
      method: 'GET',
      path: sandboxPath(sandboxId, '/tasks'),
      idempotent: true,
      options,
    });
    return list.tasks;
  }

  /** POST .../cancel: 200 the task (`cancel_requested`); it then ends `cancelled`. */
  cancel(sandboxId: string, taskId: string, options?: RequestOptions): Promise<Task> {
    return this.http.json({
      method: 'POST',
      path: taskPath(sandboxId, taskId, '/cancel'),
      idempotent: true,
      options,
    });
  }

  /**
   * The task's events, in order, each once: the stored ones, then live ones, ending
   * after `done`. A dropped or stalled connection is resumed with Last-Event-ID. Breaking
   * out of the loop closes the connection.
   */
  async *events(
    sandboxId: string,
    taskId: string,
    options: EventsOptions = {},
  ): AsyncGenerator<TaskEvent, void, undefined> {
    let last = options.lastEventId ?? 0;
    const maxReconnects = options.maxReconnects ?? 5;
    const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
    let failures = 0;
    for (;;) {
      const progressAt = last;
      const conn = new AbortController();
      const signal = options.signal ? AbortSignal.any([options.signal, conn.signal]) : conn.signal;
      let broken: unknown;
      let stall: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(stall);
        stall = setTimeout(
          () => conn.abort(new StreamBroken(`silent for ${idleTimeoutMs} ms`)),
          idleTimeoutMs,
        );
      };
      try {
        arm();
        const body = await this.http.send(
          {
            method: 'GET',
            path: taskPath(sandboxId, taskId, '/events'),
            headers: {
              Accept: 'text/event-stream',
              ...(last > 0 ? { 'Last-Event-ID': String(last) } : {}),
            },
            idempotent: true,
            options: { signal, timeoutMs: 0 },
          },
          async (res) => res.body,
        );
        if (body === null) throw new StreamBroken('an answer without a body');
        const reader = body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            arm();
            for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
              const event = toEvent(frame);
              if (event === undefined || event.id <= last) continue;
              last = event.id;
              yield event;
              if (event.type === 'done') return;
              // Frames already read must not outlive an abort.
              options.signal?.throwIfAborted();
            }
          }
        } finally {
          clearTimeout(stall);
          conn.abort();
        }
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        // Typed answers (404, 401...) end the iteration; a broken connection is resumed.
        if (e instanceof SandboxedError && !(e instanceof ConnectionError)) throw e;
        broken = e;
      } finally {
        clearTimeout(stall);
      }
      if (last > progressAt) {
        failures = 0;
      } else {
        // Nothing new. A finished task's stream always reaches `done`, so a clean end
        // here means we were resumed at or after it: nothing more will come.
        if (broken === undefined) {
          const task = await this.get(sandboxId, taskId, { signal: options.signal });
          if (task.status !== 'running') return;
        }
        if (++failures > maxReconnects) {
          throw new ConnectionError({
            status: 0,
            code: 'connection_error',
            message: `task ${taskId} events: ${failures} reconnects without a new event`,
            cause: broken,
          });
        }
      }
      if (failures > 0) await sleep(backoffMs(failures, 5_000), options.signal);
    }
  }

  /**
   * Follows the task to its end and answers the finished task (as GET reads it).
   * `onEvent` sees every event from `lastEventId` on.
   */
  async wait(sandboxId: string, taskId: string, options: WaitOptions = {}): Promise<Task> {
    for await (const event of this.events(sandboxId, taskId, options)) {
      await options.onEvent?.(event);
    }
    return this.get(sandboxId, taskId, { signal: options.signal });
  }

  /** Creates a task and waits for its end: `create` then `wait`. */
  async run(
    sandboxId: string,
    request: CreateTaskRequest,
    options: WaitOptions = {},
  ): Promise<Task> {
    const task = await this.create(sandboxId, request, { signal: options.signal });
    return this.wait(sandboxId, task.id, options);
  }
}
