import type { StandardSchemaIssue } from './standard-schema.js'

/**
 * The codes of {@link SseClientError}: what went wrong with a stream, reported through `error`
 * events and the async iterator, never thrown by `connect`.
 */
export type SseClientErrorCode =
  /** No response: `fetch` rejected (network error, DNS, CORS), or the headers or body function threw. */
  | 'SSE_ERR_CLIENT_REQUEST'
  /** The response status was not 200 (`status` says which). */
  | 'SSE_ERR_CLIENT_STATUS'
  /** A 200 response whose content type is not `text/event-stream`. Never retried. */
  | 'SSE_ERR_CLIENT_CONTENT_TYPE'
  /** Reading the body failed after the stream had opened. */
  | 'SSE_ERR_CLIENT_DISCONNECTED'
  /** The server ended the body. */
  | 'SSE_ERR_CLIENT_ENDED'
  /** No byte arrived for `heartbeatMs * stallMultiplier`: the client aborted the connection. */
  | 'SSE_ERR_CLIENT_STALLED'
  /** A line or an event grew past `maxBufferSize` and was dropped. The stream goes on. */
  | 'SSE_ERR_CLIENT_BUFFER_OVERFLOW'
  /** An event's data was not JSON (`json: true`) or failed its schema. The event was dropped. */
  | 'SSE_ERR_CLIENT_EVENT_INVALID'

/** The raw event behind an `SSE_ERR_CLIENT_EVENT_INVALID` error. */
export interface RawEvent {
  readonly type: string
  readonly data: string
  readonly lastEventId: string
}

/** Options of {@link SseClientError}. */
export interface SseClientErrorOptions {
  /** The underlying error (a `TypeError` from fetch, a `SyntaxError` from `JSON.parse`, ...). */
  cause?: unknown
  /** The HTTP status, for `SSE_ERR_CLIENT_STATUS`. */
  status?: number | undefined
  /** The dropped event, for `SSE_ERR_CLIENT_EVENT_INVALID`. */
  event?: RawEvent | undefined
  /** The schema's issues, for `SSE_ERR_CLIENT_EVENT_INVALID` from a validator. */
  issues?: readonly StandardSchemaIssue[] | undefined
}

/**
 * A problem with the stream or the peer, with a stable `code`. The client reports these through
 * `error` events ({@link ClientErrorEvent}) and by rejecting its async iterator; it never throws
 * them. Programmer errors (invalid options) are thrown by `connect` as the core's `SseError`
 * with code `SSE_ERR_OPTION_INVALID`.
 *
 * @example
 * stream.onerror = (e) => console.log(e.error.code, e.error.status, stream.readyState)
 */
export class SseClientError extends Error {
  override readonly name = 'SseClientError'
  readonly code: SseClientErrorCode
  /** The HTTP status, for `SSE_ERR_CLIENT_STATUS`; otherwise undefined. */
  readonly status: number | undefined
  /** The dropped event, for `SSE_ERR_CLIENT_EVENT_INVALID`; otherwise undefined. */
  readonly event: RawEvent | undefined
  /** The schema's issues, when a validator rejected the event; otherwise undefined. */
  readonly issues: readonly StandardSchemaIssue[] | undefined

  constructor(code: SseClientErrorCode, message: string, options: SseClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status
    this.event = options.event
    this.issues = options.issues
  }
}
