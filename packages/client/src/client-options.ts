import type { SseClientError } from './client-error.js'
import type { DefaultEventMap, EventMap } from './events.js'
import type { StandardSchemaV1 } from './standard-schema.js'

/** A request body the client can send again on every reconnect (streams cannot be replayed). */
export type ClientBody = Exclude<BodyInit, ReadableStream> | null

/** What the headers and body functions are told about the attempt they prepare. */
export interface RequestContext {
  /** 1 for the first request of this client, then +1 for every reconnect. */
  readonly attempt: number
  /** The id sent as `Last-Event-ID` on this request (`''`: none). */
  readonly lastEventId: string
  /**
   * Aborted when this attempt is abandoned (close, stall timeout, page hidden): pass it to the
   * token request so that a hanging one does not hold the client up.
   */
  readonly signal: AbortSignal
}

/** What the `onUnauthorized` hook is told. */
export interface UnauthorizedContext {
  /** 401 or 403. */
  readonly status: number
  /** The response (its body is not read). */
  readonly response: Response
  /** The request number, as in {@link RequestContext}. */
  readonly attempt: number
}

/**
 * A reconnection strategy: given the number of consecutive failures (1 for the first), the
 * failure, and the delay the default policy would use (full-jitter backoff over the server's
 * `retry:`, at least the `Retry-After`), returns the delay in milliseconds, or `false` to stop.
 */
export type ReconnectStrategy = (attempt: number, cause: SseClientError, delayMs: number) => number | false

/** Where the last event id is persisted: `sessionStorage`, `localStorage` or anything alike. */
export interface LastEventIdStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** Tells whether the page is hidden and when that changes (the default reads `document`). */
export interface VisibilitySource {
  hidden(): boolean
  /** Calls `onChange` on every change; returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void
}

/** The timer functions the client uses: injectable so that tests control time. */
export interface ClientTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The `fetch` the client calls (the global one by default). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/** Options of {@link connect}. Every field is optional. */
export interface ClientOptions<M extends EventMap = DefaultEventMap> {
  /**
   * The request method.
   * @defaultValue 'GET'
   */
  method?: string
  /**
   * The request body (not with GET or HEAD), or a function that returns it for each attempt.
   * @defaultValue none
   */
  body?: ClientBody | ((context: RequestContext) => ClientBody | Promise<ClientBody>)
  /**
   * Request headers, or a function called before every attempt (connect and each reconnect) that
   * returns them: the place for a fresh `Authorization` token. `Accept: text/event-stream` and
   * `Cache-Control: no-cache` are added unless present; `Last-Event-ID` is always the client's.
   * @defaultValue none
   */
  headers?: HeadersInit | ((context: RequestContext) => HeadersInit | Promise<HeadersInit>)
  /**
   * The `credentials` mode of the request: `'include'` sends cookies cross-origin (and makes
   * `withCredentials` true).
   * @defaultValue 'same-origin'
   */
  credentials?: RequestCredentials
  /**
   * The `fetch` to call. Its redirect handling applies: the global one drops `Authorization` and
   * `Cookie` when a redirect crosses origins (see docs/client.md).
   * @defaultValue globalThis.fetch, looked up on every request
   */
  fetch?: FetchLike
  /**
   * The id to resume after on the first request (sent as `Last-Event-ID`). Takes precedence over
   * a persisted one. Must not contain CR, LF or NUL.
   * @defaultValue '' (or the persisted id)
   */
  lastEventId?: string
  /**
   * Persists the last event id (e.g. `sessionStorage`) so that a page reload resumes where it
   * left off. Written after each received chunk that moved the id; storage failures are ignored.
   * @defaultValue none
   */
  storage?: LastEventIdStorage | false
  /**
   * The storage key.
   * @defaultValue `'ssehub:last-event-id:' + url`
   */
  storageKey?: string
  /**
   * The reconnection time until the server sends `retry:`, in milliseconds; the base of the
   * backoff.
   * @defaultValue 2000
   */
  retryMs?: number
  /**
   * The cap of the exponential backoff, in milliseconds (a larger server `retry:` wins).
   * @defaultValue 30000
   */
  maxRetryMs?: number
  /**
   * Whether and when to reconnect: `true` for full-jitter exponential backoff over the server's
   * `retry:` (at least any `Retry-After`), `false` never, a number for a fixed delay in
   * milliseconds (at least any `Retry-After`), or a {@link ReconnectStrategy}.
   * @defaultValue true
   */
  reconnect?: boolean | number | ReconnectStrategy
  /**
   * Called on a 401 or 403. Refresh the credentials (the headers function then picks them up)
   * and return true to retry once at once; anything else fails the connection. A second 401/403
   * in a row fails it without calling the hook again.
   * @defaultValue none: 401 and 403 fail the connection
   */
  onUnauthorized?: (context: UnauthorizedContext) => boolean | undefined | Promise<boolean | undefined>
  /**
   * The server's heartbeat interval in milliseconds, for stall detection; `false` turns stall
   * detection off.
   * @defaultValue 15000 (the hub's default)
   */
  heartbeatMs?: number | false
  /**
   * A connection that has received no byte (events and heartbeat comments count) for
   * `heartbeatMs * stallMultiplier` milliseconds, waiting for the response included, is aborted
   * and reconnected with `Last-Event-ID`.
   * @defaultValue 2
   */
  stallMultiplier?: number
  /**
   * Parse every event's data as JSON. Data that is not JSON is reported as an `error` event
   * (`SSE_ERR_CLIENT_EVENT_INVALID`) and the event is dropped.
   * @defaultValue false
   */
  json?: boolean
  /**
   * Standard Schema validators (zod, valibot, arktype, ...) by event type, run on the data (after
   * JSON parsing when `json` is true); the event carries the validator's output. An event that
   * fails is reported as an `error` event (`SSE_ERR_CLIENT_EVENT_INVALID`) and dropped. Async
   * validators are awaited in order.
   * @defaultValue none
   */
  schemas?: { [K in keyof M]?: StandardSchemaV1<unknown, M[K]> }
  /**
   * The longest line, and the longest data of one event, in UTF-16 code units; anything longer
   * is dropped and reported (`SSE_ERR_CLIENT_BUFFER_OVERFLOW`).
   * @defaultValue 1048576
   */
  maxBufferSize?: number
  /**
   * Events each async iterator buffers before the client pauses reading the network (plus at
   * most the events of one network chunk).
   * @defaultValue 1000
   */
  iteratorBufferSize?: number
  /**
   * Close the connection while the page is hidden and reconnect (with `Last-Event-ID`) when it is
   * visible again.
   * @defaultValue false
   */
  pauseWhenHidden?: boolean
  /**
   * Where `pauseWhenHidden` learns the visibility.
   * @defaultValue `document.visibilityState` and its `visibilitychange` event (never hidden without `document`)
   */
  visibility?: VisibilitySource
  /**
   * Closes the client when aborted.
   * @defaultValue none
   */
  signal?: AbortSignal
  /**
   * Timer functions (for tests).
   * @defaultValue the global setTimeout and clearTimeout
   */
  timers?: ClientTimers
  /**
   * The random source of the backoff jitter, returning values in [0, 1) (for tests).
   * @defaultValue Math.random
   */
  random?: () => number
}
