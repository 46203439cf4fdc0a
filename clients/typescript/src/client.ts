import { UnavailableError } from './errors.js';
import { Files } from './files.js';
import { Transport } from './http.js';
import type { ClientOptions, RequestOptions } from './http.js';
import { Processes } from './processes.js';
import { Sandboxes } from './sandboxes.js';
import { Snapshots } from './snapshots.js';
import { Tasks } from './tasks.js';
import type { Version } from './types.js';

/**
 * A client of one sandboxd. `new Sandboxed()` reads SANDBOXD_URL and SANDBOXD_TOKEN.
 * Every call throws a SandboxedError subclass on failure (see errors.ts).
 */
export class Sandboxed {
  readonly sandboxes: Sandboxes;
  readonly files: Files;
  readonly tasks: Tasks;
  readonly processes: Processes;
  readonly snapshots: Snapshots;
  private readonly http: Transport;

  constructor(options: ClientOptions = {}) {
    this.http = new Transport(options);
    this.sandboxes = new Sandboxes(this.http);
    this.files = new Files(this.http);
    this.tasks = new Tasks(this.http);
    this.processes = new Processes(this.http);
    this.snapshots = new Snapshots(this.http, this.sandboxes);
  }

  /** The base URL requests go to. */
  get url(): string {
    return this.http.baseUrl;
  }

  /** GET /v1/version. */
  version(options?: RequestOptions): Promise<Version> {
    return this.http.json({ method: 'GET', path: '/v1/version', idempotent: true, options });
  }

  /** GET /readyz once, without retries: whether SQLite and dockerd answer. */
  async ready(options?: RequestOptions): Promise<boolean> {
    try {
      await this.http.empty({
        method: 'GET',
        path: '/readyz',
        idempotent: true,
        options: { maxRetries: 0, ...options },
      });
      return true;
    } catch (e) {
      if (e instanceof UnavailableError) return false;
      throw e;
    }
  }
}
