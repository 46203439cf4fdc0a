// The shapes of sandboxd's API (v1), written by hand after src/api/json_codec.cpp.
// scripts/check-types.mjs checks that every property of api/openapi.json's component
// schemas appears here, so the two cannot drift apart silently.

/** An RFC 3339 time with milliseconds, e.g. "2026-11-28T00:37:52.908Z". */
export type Timestamp = string;

export type SandboxStatus =
  | 'creating'
  | 'starting'
  | 'running'
  | 'frozen'
  | 'stopping'
  | 'stopped'
  | 'error'
  | 'deleting'
  | 'purging';

export type IdlePolicy = 'sleep' | 'always_on';
export type Egress = 'public' | 'none';
export type Runtime = 'runc' | 'gvisor';

/** What last counted as activity on a sandbox. */
export type ActivitySource =
  | 'api'
  | 'create'
  | 'exec'
  | 'files'
  | 'keepalive'
  | 'preview'
  | 'task'
  | 'reconciler'
  | 'idle'
  | 'pressure'
  | 'emergency';

/**
 * The client's own labels: at most 32 keys of 1-63 characters of [A-Za-z0-9._-] starting
 * with a letter or digit; values of at most 256 bytes.
 */
export type Metadata = Record<string, string>;

/** Environment variables (values are never returned). */
export type Env = Record<string, string>;

/** A merge into metadata: a string sets a key, null removes it. */
export type MetadataPatch = Record<string, string | null>;

/** A merge into env: a string sets a variable, null removes it. */
export type EnvPatch = Record<string, string | null>;

/** The body of POST /v1/sandboxes. Every field is optional. */
export interface CreateSandboxRequest {
  /** 1-32 characters of [a-z0-9]; a ULID when absent. */
  id?: string;
  /** Ports the dev server may listen on; each gets a preview URL. At most 16. */
  ports?: number[];
  /** Env for every process in the sandbox; never returned (only `env_keys`). */
  env?: Env;
  metadata?: Metadata;
  idle_policy?: IdlePolicy;
  /** A size string ("1g", "512m") or bytes. */
  memory?: string | number;
  /** A number of CPUs (1.5) or its text ("1.5"). */
  cpus?: number | string;
  /** The workspace's size: a size string or bytes. Fixed at create. */
  disk?: string | number;
  egress?: Egress;
  runtime?: Runtime;
  pids_limit?: number;
  nofile?: number;
  /** A snapshot's or template's id or name: the workspace starts as a copy of it. */
  snapshot?: string;
  /** Answer once the app listens, crashed or has nothing to run: true (30 s) or 1-300 s. */
  wait_for_app?: boolean | number;
}

/**
 * The body of PATCH /v1/sandboxes/{id}. `metadata` and `env` merge: a string sets a key,
 * null removes it. Limits take effect at the next start (see `pending_restart`).
 */
export interface UpdateSandboxRequest {
  metadata?: MetadataPatch;
  env?: EnvPatch;
  /** Replaces the ports. */
  ports?: number[];
  idle_policy?: IdlePolicy;
  memory?: string | number;
  cpus?: number | string;
  pids_limit?: number;
  nofile?: number;
}

export interface Preview {
  port: number;
  url: string;
}

export interface SandboxLimits {
  memory_bytes: number;
  pids: number;
  nofile: number;
  disk_bytes: number;
  cpus: number;
}

export interface SandboxUsage {
  disk_used_bytes: number | null;
  memory_bytes: number | null;
  cpu_seconds: number | null;
}

export type AppStateName = 'none' | 'starting' | 'listening' | 'crashed';

/** How the app last exited: its exit code or the signal that ended it; null before. */
export type AppExit = { code: number } | { signal: number } | null;

/** The dev server, as the sandbox's supervisor last reported it. */
export interface AppState {
  state: AppStateName;
  port: number | null;
  restarts: number;
  started_at: Timestamp | null;
  last_exit: AppExit;
  last_exit_at: Timestamp | null;
  /** Why nothing runs (state "none"), else null. */
  reason: string | null;
  updated_at: Timestamp | null;
  /** The last 4 KiB of the dev server's log. */
  log_tail: string;
}

/** When the idle reaper will freeze and stop the sandbox, and why. */
export interface IdleInfo {
  threshold_s: number;
  freezes_at: Timestamp | null;
  stops_at: Timestamp | null;
  reason: string;
}

/** A limit changed by PATCH that waits for the next start. */
export type PendingRestartField = 'memory' | 'cpus' | 'pids_limit' | 'nofile';

/** A sandbox as lists show it. */
export interface SandboxSummary {
  id: string;
  status: SandboxStatus;
  image: string;
  container_name: string;
  container_id: string | null;
  ports: number[];
  previews: Preview[];
  /** The names of the sandbox's env variables (values are never returned). */
  env_keys: string[];
  metadata: Metadata;
  /** Limits set by PATCH that take effect on the next start; [] when none. */
  pending_restart: PendingRestartField[];
  idle_policy: IdlePolicy;
  limits: SandboxLimits;
  egress: Egress;
  runtime: Runtime;
  uid: number;
  created_at: Timestamp | null;
  updated_at: Timestamp | null;
  started_at: Timestamp | null;
  stopped_at: Timestamp | null;
  last_active_at: Timestamp | null;
  last_active_source: ActivitySource | null;
  keepalive_until: Timestamp | null;
  /** Only on a sandbox in "error". */
  error_message?: string;
  stop_reason: string | null;
}

/** A sandbox as every single-sandbox answer shows it (create, get, stop, PATCH...). */
export interface Sandbox extends SandboxSummary {
  app: AppState;
  usage: SandboxUsage;
  idle: IdleInfo;
}

/** One page of GET /v1/sandboxes. */
export interface SandboxList {
  sandboxes: SandboxSummary[];
  /** The cursor of the next page (`after`), null on the last. */
  next_after: string | null;
}

export interface PurgeResult {
  purged: boolean;
  freed_bytes: number;
}

export interface ExecRequest {
  /** An argv array; use ["bash", "-lc", "..."] for shell syntax. */
  cmd: string[];
  /** Seconds before it is killed (default 300); with `background`, a deadline (default none). */
  timeout_s?: number;
  env?: Env;
  /** An absolute directory; default ~/workspace/app. */
  workdir?: string;
  /** Start it in the background: 202 with its Process at once. */
  background?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  duration_ms: number;
  timed_out: boolean;
  /** Output beyond the per-stream cap was cut. */
  truncated: boolean;
}

/** event: stdout or stderr of a streamed exec or a followed process output. */
export interface ExecOutputEvent {
  data: string;
}

/** event: exit. A streamed exec's command ended; always the last event. */
export interface ExecExitEvent {
  /** 128 + the signal's number when a signal ended it. */
  exit_code: number;
  timed_out: boolean;
  duration_ms: number;
}

/** event: error. The engine failed mid-way (how the command ended is unknown); last. */
export interface ExecErrorEvent {
  error: { code: ErrorCode; message: string };
}

/** One event of a streamed exec as `sandboxes.execStream` yields it. */
export type ExecEvent =
  | { type: 'stdout' | 'stderr'; text: string }
  | { type: 'exit'; exit: ExecExitEvent };

/**
 * running until it ends; then exited (by itself, a signal or its deadline: see exit_code,
 * signal, timed_out), stopped (with its sandbox's stop) or lost (it could not be started).
 */
export type ProcessState = 'running' | 'exited' | 'stopped' | 'lost';

/** A background process (exec with `background: true`). */
export interface Process {
  /** Its id in the API (`pid` in its routes). */
  id: string;
  sandbox_id: string;
  cmd: string[];
  workdir: string;
  /** Its pid in the sandbox; null until known, and for a lost process. */
  pid: number | null;
  state: ProcessState;
  /** null while it runs, when a signal ended it, and when it stopped or was lost. */
  exit_code: number | null;
  /** The signal that ended it (15 TERM, 9 KILL...), else null. */
  signal: number | null;
  timed_out: boolean;
  /** Its deadline in seconds; null: none. */
  timeout_s: number | null;
  started_at: Timestamp;
  ended_at: Timestamp | null;
  /** The path of its output (GET; ?follow=true follows it). */
  output_url: string;
}

export interface ProcessList {
  /** The running ones first, then the ended ones; newest first within each. */
  processes: Process[];
}

/** The end of a background process's output (env values masked as ***). */
export interface ProcessOutput {
  stdout: string;
  stderr: string;
}

/** One event of a followed process output as `processes.follow` yields it. */
export type ProcessOutputEvent =
  | { type: 'stdout' | 'stderr'; text: string }
  | { type: 'exit'; process: Process };

/** A single-use ticket (valid 30 s) to open a sandbox's terminal from a browser. */
export interface TerminalTicket {
  /** 64 hex characters: pass it as ?ticket= to GET /v1/sandboxes/{id}/terminal. */
  ticket: string;
  expires_at: Timestamp;
}

/** A text message from the client on the terminal's WebSocket (binary ones are input). */
export type TerminalControl =
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'input'; data: string };

/** The server's last text message on the terminal's WebSocket, before its close frame. */
export interface TerminalExit {
  type: 'exit';
  /** -1 when unknown (shutdown). */
  exit_code: number;
  /** exited (close 1000); sandbox_stopped, shutdown (close 1001). */
  reason: 'exited' | 'sandbox_stopped' | 'shutdown';
}

export interface KeepaliveRequest {
  seconds?: number;
  /** Unix seconds (the original API's form). */
  until?: number;
}

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileEntry {
  name: string;
  type: FileType;
  size: number;
  modified_at: Timestamp | null;
}

export interface FileContent {
  path: string;
  type: 'file';
  size: number;
  modified_at: Timestamp | null;
  encoding: 'utf8' | 'base64';
  content: string;
}

export interface DirListing {
  path: string;
  type: 'dir';
  modified_at: Timestamp | null;
  entries: FileEntry[];
  /** More than 10000 entries: the rest were left out. */
  truncated: boolean;
}

/** GET /v1/sandboxes/{id}/files: a file or a directory. */
export type FileNode = FileContent | DirListing;

/** The JSON body of PUT /v1/sandboxes/{id}/files. */
export interface WriteFileRequest {
  path: string;
  content: string;
  append?: boolean;
  encoding?: 'utf8' | 'base64';
}

export interface FileWritten {
  path: string;
  bytes_written: number;
  appended: boolean;
}

export type Agent = 'opencode' | 'claude';
export type TaskStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type FailureReason =
  | 'agent_error'
  | 'agent_timeout'
  | 'cancelled'
  | 'sandbox_stopped'
  | 'start_failed'
  | 'output_too_large'
  | 'lost';

export interface CreateTaskRequest {
  prompt: string;
  agent: Agent;
  model?: string;
  timeout_s?: number;
  /** Env for this task only (e.g. model keys); values are never shown. */
  env?: Env;
  /** Snapshot the workspace first; the task's `checkpoint_id` names the snapshot. */
  checkpoint?: boolean;
}

export interface TaskUsage {
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
}

export interface Task {
  id: string;
  sandbox_id: string;
  agent: Agent;
  model: string;
  status: TaskStatus;
  failure_reason: FailureReason | null;
  error: string | null;
  final_message: string;
  files_changed: string[];
  /** {} until the agent reports usage. */
  usage: Partial<TaskUsage>;
  exit_code: number | null;
  env_keys: string[];
  checkpoint_id: string | null;
  timeout_s: number;
  cancel_requested: boolean;
  created_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  duration_ms: number | null;
  /** The path of the task's event stream. */
  events_url: string;
}

export interface TaskList {
  tasks: Task[];
}

/** event: status. */
export type TaskEventStatus =
  | { phase: 'starting'; agent: Agent; model: string }
  | { phase: 'agent_started'; model: string };

/** event: message. The agent's text. */
export interface TaskEventMessage {
  role: 'assistant';
  text: string;
}

/** event: tool. A tool call; input and output are cut at 16 KiB. */
export interface TaskEventTool {
  name: string;
  /** As the agent says: started, running, completed or error. */
  status: 'started' | 'running' | 'completed' | 'error' | (string & {});
  input?: string;
  output?: string;
}

/** event: usage. Running totals. */
export type TaskEventUsage = TaskUsage;

/** event: error. An error the agent reported. */
export interface TaskEventError {
  message: string;
}

/** event: done. The task's result; always the last event. */
export interface TaskEventDone {
  id: string;
  status: TaskStatus;
  /** "" when the task succeeded. */
  failure_reason: FailureReason | '';
  /** "" when there was none. */
  error: string;
  final_message: string;
  files_changed: string[];
  usage: Partial<TaskUsage> | null;
  exit_code: number | null;
  duration_ms: number;
}

export interface TaskEventData {
  status: TaskEventStatus;
  message: TaskEventMessage;
  tool: TaskEventTool;
  usage: TaskEventUsage;
  error: TaskEventError;
  done: TaskEventDone;
}

export type TaskEventType = keyof TaskEventData;

/** One frame of a task's event stream; `id` counts 1, 2, 3... per task. */
export type TaskEvent = {
  [K in TaskEventType]: { id: number; type: K; data: TaskEventData[K] };
}[TaskEventType];

export interface CreateSnapshotRequest {
  /** 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit. */
  name?: string;
}

export interface Snapshot {
  id: string;
  name: string | null;
  /** null for a template. */
  sandbox_id: string | null;
  template: boolean;
  created_at: Timestamp | null;
  bytes: number;
  files: number;
}

export interface SnapshotList {
  snapshots: Snapshot[];
}

export interface ForkRequest {
  /** The new sandbox's id; a ULID when absent. */
  id?: string;
}

export interface RestoreRequest {
  /** A snapshot's or template's id or name. */
  snapshot: string;
}

export interface Version {
  version: string;
  api_version: string;
}

export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'unsupported_media_type'
  | 'capacity'
  | 'unavailable'
  | 'timeout'
  | 'internal';

/** Every error answer's body. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    request_id: string;
  };
}
