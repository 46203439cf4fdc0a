// Typed errors. Every failure the client reports is a SandboxedError: an error answer of
// sandboxd (status, code and request id from its JSON body and X-Request-Id), or a
// client-side failure (status 0): ConnectionError, RequestTimeoutError.

export interface SandboxedErrorInit {
  status: number;
  code: string;
  message: string;
  requestId?: string | undefined;
  /** Seconds, from Retry-After. */
  retryAfter?: number | undefined;
  cause?: unknown;
}

export class SandboxedError extends Error {
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** sandboxd's error code (e.g. "not_found"), or the client's for status 0. */
  readonly code: string;
  /** The X-Request-Id of the answer: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait (Retry-After), when it did. */
  readonly retryAfter: number | undefined;

  constructor(init: SandboxedErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** 400 invalid_request: fix the request; nothing was changed. */
export class InvalidArgumentError extends SandboxedError {}
/** 401 unauthorized: a missing or wrong bearer token. */
export class UnauthorizedError extends SandboxedError {}
/** 403 forbidden: refused as a browser's cross-site request. */
export class ForbiddenError extends SandboxedError {}
/** 404 not_found: no such sandbox, task, snapshot, file or route. */
export class NotFoundError extends SandboxedError {}
/** 409 conflict: the state forbids it (id taken, a task runs, deleting...). */
export class ConflictError extends SandboxedError {}
/** 413 too_large: the body or file is over its limit. */
export class TooLargeError extends SandboxedError {}
/** 415 unsupported_media_type. */
export class UnsupportedMediaTypeError extends SandboxedError {}
/** 429 capacity: an operator's cap was reached; nothing was created or started. */
export class CapacityError extends SandboxedError {}
/** 503 unavailable: sandboxd did nothing; retry after `retryAfter`. */
export class UnavailableError extends SandboxedError {}
/** 504 timeout: a docker call timed out on the server. */
export class GatewayTimeoutError extends SandboxedError {}
/** 500 internal (or any other 5xx). */
export class InternalError extends SandboxedError {}

/** No answer: the connection failed or broke (status 0, code "connection_error"). */
export class ConnectionError extends SandboxedError {}
/** The client's own timeout passed (status 0, code "request_timeout"). */
export class RequestTimeoutError extends SandboxedError {}

type ErrorClass = new (init: SandboxedErrorInit) => SandboxedError;

const byCode: Record<string, ErrorClass> = {
  invalid_request: InvalidArgumentError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  conflict: ConflictError,
  too_large: TooLargeError,
  unsupported_media_type: UnsupportedMediaTypeError,
  capacity: CapacityError,
  unavailable: UnavailableError,
  timeout: GatewayTimeoutError,
  internal: InternalError,
};

const byStatus: Record<number, ErrorClass> = {
  400: InvalidArgumentError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  405: NotFoundError,
  409: ConflictError,
  413: TooLargeError,
  415: UnsupportedMediaTypeError,
  429: CapacityError,
  503: UnavailableError,
  504: GatewayTimeoutError,
};

/** The error class for an answer: by sandboxd's code, else by HTTP status. */
export function errorClassFor(status: number, code: string | undefined): ErrorClass {
  if (code !== undefined && byCode[code]) return byCode[code];
  return byStatus[status] ?? (status >= 500 ? InternalError : SandboxedError);
}
