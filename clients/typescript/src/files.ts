import { SandboxedError } from './errors.js';
import type { RequestOptions, Transport } from './http.js';
import { sandboxPath } from './sandboxes.js';
import type { DirListing, FileNode, FileWritten } from './types.js';

export interface WriteOptions extends RequestOptions {
  /** Append instead of replacing the file. An append is not retried after a lost connection. */
  append?: boolean;
}

/**
 * Files in a sandbox's workspace. Paths are relative to the sandbox user's home
 * (/home/sandbox); the app lives in workspace/app. Works whether the sandbox runs or not.
 */
export class Files {
  constructor(private readonly http: Transport) {}

  /** GET .../files?path=: a file (content utf8 or base64) or a directory listing. */
  get(sandboxId: string, path: string, options?: RequestOptions): Promise<FileNode> {
    return this.http.json({
      method: 'GET',
      path: sandboxPath(sandboxId, '/files'),
      query: { path },
      idempotent: true,
      options,
    });
  }

  /** A directory's entries (path "" is the home itself). */
  async list(sandboxId: string, path = '', options?: RequestOptions): Promise<DirListing> {
    const node = await this.get(sandboxId, path, options);
    if (node.type !== 'dir') {
      throw new SandboxedError({
        status: 0,
        code: 'not_a_directory',
        message: `${path} is a ${node.type}, not a directory`,
      });
    }
    return node;
  }

  /** A file's bytes (GET ...&raw=true). */
  readBytes(sandboxId: string, path: string, options?: RequestOptions): Promise<Uint8Array> {
    return this.http.bytes({
      method: 'GET',
      path: sandboxPath(sandboxId, '/files'),
      query: { path, raw: true },
      headers: { Accept: 'application/octet-stream' },
      idempotent: true,
      options,
    });
  }

  /** A file's text, decoded as UTF-8. */
  async readText(sandboxId: string, path: string, options?: RequestOptions): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(sandboxId, path, options));
  }

  /**
   * PUT .../files: creates missing directories and replaces the file atomically (or
   * appends). A string is sent as JSON text, bytes raw (application/octet-stream).
   */
  write(
    sandboxId: string,
    path: string,
    content: string | Uint8Array,
    options: WriteOptions = {},
  ): Promise<FileWritten> {
    const append = options.append ?? false;
    const base = {
      method: 'PUT' as const,
      path: sandboxPath(sandboxId, '/files'),
      idempotent: !append,
      options,
    };
    if (typeof content === 'string') {
      return this.http.json({ ...base, json: { path, content, append } });
    }
    return this.http.json({ ...base, query: { path, append }, bytes: content });
  }

  /** DELETE .../files: a file, a symlink or an empty directory. */
  delete(sandboxId: string, path: string, options?: RequestOptions): Promise<void> {
    return this.http.empty({
      method: 'DELETE',
      path: sandboxPath(sandboxId, '/files'),
      query: { path },
      idempotent: true,
      options,
    });
  }
}
