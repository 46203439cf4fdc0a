import type { RequestOptions, Transport } from './http.js';
import { frameData, frameText, streamFrames } from './output.js';
import type { OutputStreamOptions } from './output.js';
import { sandboxPath } from './sandboxes.js';
import type { Process, ProcessList, ProcessOutput, ProcessOutputEvent } from './types.js';

export type ProcessSignal = 'TERM' | 'INT' | 'HUP' | 'KILL';

export interface FollowOptions extends OutputStreamOptions {
  /** Bytes of the end of each stream to show first (default 65536; 0: only new output). */
  tail?: number;
}

function processPath(sandboxId: string, processId = '', rest = ''): string {
  const p = processId === '' ? '' : `/${encodeURIComponent(processId)}`;
  return sandboxPath(sandboxId, `/processes${p}${rest}`);
}

/**
 * Background processes, started by `sandboxes.exec(id, {cmd, background: true})`. They
 * run on until they end, are killed, reach their deadline or their sandbox stops. A
 * process is named by its `id` (not its pid in the sandbox).
 */
export class Processes {
  constructor(private readonly http: Transport) {}

  /** The sandbox's processes: running ones first, then ended ones; newest first in each. */
  async list(sandboxId: string, options?: RequestOptions): Promise<Process[]> {
    const list = await this.http.json<ProcessList>({
      method: 'GET',
      path: processPath(sandboxId),
      idempotent: true,
      options,
    });
    return list.processes;
  }

  get(sandboxId: string, processId: string, options?: RequestOptions): Promise<Process> {
    return this.http.json({
      method: 'GET',
      path: processPath(sandboxId, processId),
      idempotent: true,
      options,
    });
  }

  /**
   * DELETE: sends `signal` (default TERM, which becomes KILL after 5 s) and answers the
   * process once it ended, or after 3 s (it may still say running). ConflictError once it
   * has ended. Not retried after a lost connection.
   */
  kill(
    sandboxId: string,
    processId: string,
    signal: ProcessSignal = 'TERM',
    options?: RequestOptions,
  ): Promise<Process> {
    return this.http.json({
      method: 'DELETE',
      path: processPath(sandboxId, processId),
      query: { signal },
      idempotent: false,
      options,
    });
  }

  /**
   * The last `tail` bytes (default 65536, at most 1 MiB) of its stdout and of its stderr;
   * readable after it ended and while the sandbox is stopped.
   */
  output(
    sandboxId: string,
    processId: string,
    options: RequestOptions & { tail?: number } = {},
  ): Promise<ProcessOutput> {
    return this.http.json({
      method: 'GET',
      path: processPath(sandboxId, processId, '/output'),
      query: { tail: options.tail },
      idempotent: true,
      options,
    });
  }

  /**
   * Its output as it comes: `stdout` and `stderr` pieces (the tail first), then `exit`
   * with the ended process. Breaking out of the loop closes the connection and leaves the
   * process running. A broken connection throws ConnectionError.
   */
  async *follow(
    sandboxId: string,
    processId: string,
    options: FollowOptions = {},
  ): AsyncGenerator<ProcessOutputEvent, void, undefined> {
    const call = {
      method: 'GET',
      path: processPath(sandboxId, processId, '/output'),
      query: { follow: true, tail: options.tail },
      idempotent: true,
    } as const;
    const what = `process ${processId} of sandbox ${sandboxId}`;
    for await (const frame of streamFrames(this.http, call, what, options)) {
      if (frame.event === 'stdout' || frame.event === 'stderr') {
        yield { type: frame.event, text: frameText(frame) };
      } else if (frame.event === 'exit') {
        yield { type: 'exit', process: frameData(frame) as Process };
        return;
      }
    }
  }
}
