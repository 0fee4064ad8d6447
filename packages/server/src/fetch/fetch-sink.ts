import { type Sink, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'

/**
 * How many bytes the body stream holds for a reader that is behind before {@link Sink.write}
 * reports backpressure: enough for a burst of events, small next to a session's 1 MiB queue.
 */
export const DEFAULT_HIGH_WATER_MARK_BYTES = 64 * 1024

/**
 * Options of {@link createFetchSink}.
 * @example
 * const sink = createFetchSink({ signal: request.signal, headers: { 'access-control-allow-origin': '*' } })
 */
export interface FetchSinkOptions {
  /**
   * Bytes the body stream may hold before `write()` returns false (the stream's high-water mark).
   * @defaultValue 65536 ({@link DEFAULT_HIGH_WATER_MARK_BYTES})
   */
  highWaterMarkBytes?: number
  /**
   * Ends the sink when aborted: pass `request.signal`, which runtimes abort when the client goes
   * away (cancelling the body does the same).
   * @defaultValue none
   */
  signal?: AbortSignal
  /**
   * Extra response headers, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/**
 * A {@link Sink} over the body of a Fetch `Response`: a `ReadableStream` whose queue is bounded
 * by its high-water mark. `write()` enqueues and returns false once the reader is that far behind;
 * `waitForDrain()` resolves when the reader pulls again. Cancelling the body (the client went
 * away) aborts the signal and ends the session.
 * @example
 * const sink: FetchSink = createFetchSink({ signal: request.signal })
 * hub.connect(sink, { channels: ['news'] })
 * return sink.response()
 */
export interface FetchSink extends Sink {
  /** The response body. Hand it to exactly one `Response` (or use {@link FetchSink.response}). */
  readonly body: ReadableStream<Uint8Array>
  /** True while the reader is behind: the body stream holds its high-water mark or more. */
  readonly behind: boolean
  /**
   * A `200` response streaming {@link FetchSink.body}, with the event-stream headers (without the
   * HTTP/1.1-only `connection`, which the runtime manages) and `options.headers`.
   */
  response(): Response
  /**
   * Ends the body with an error rather than cleanly, so the runtime drops the connection instead
   * of keeping it open to deliver what is queued. Used when a reader fell a whole queue behind.
   * Idempotent; does nothing once the sink is closed.
   */
  destroy(reason?: unknown): void
}

/** The error a destroyed body ends with (what a runtime may log when it drops the connection). */
function dropped(): Error {
  return new Error(
    'ssehub: event stream dropped (the client fell too far behind; it resumes from Last-Event-ID)',
  )
}

class ReadableStreamSink implements FetchSink {
  readonly body: ReadableStream<Uint8Array>
  readonly #controller: ReadableStreamDefaultController<Uint8Array>
  readonly #headers: Record<string, string> | undefined
  readonly #abort = new AbortController()
  readonly #external: AbortSignal | undefined
  #closed = false
  /** The promise of the backpressure episode in progress, shared by every waiter. */
  #drain: Promise<void> | undefined
  #resolveDrain: (() => void) | undefined

  constructor(
    highWaterMark: number,
    headers: Record<string, string> | undefined,
    signal: AbortSignal | undefined,
  ) {
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined
    this.body = new ReadableStream<Uint8Array>(
      {
        // `start` runs synchronously, inside the constructor.
        start: (c) => {
          controller = c
        },
        // Called whenever the queue is below the high-water mark and the reader wants more.
        pull: () => this.#onDrain(),
        cancel: () => this.#finish(),
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    )
    this.#controller = controller as ReadableStreamDefaultController<Uint8Array>
    this.#headers = headers
    this.#external = signal
    if (signal !== undefined) {
      if (signal.aborted) this.close()
      else signal.addEventListener('abort', this.#onExternalAbort, { once: true })
    }
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  get behind(): boolean {
    return !this.#closed && (this.#controller.desiredSize ?? 0) <= 0
  }

  response(): Response {
    const headers = sseHeaders({ http2: true })
    if (this.#headers !== undefined) Object.assign(headers, this.#headers)
    return new Response(this.body, { status: 200, headers })
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed) return true
    try {
      this.#controller.enqueue(chunk)
    } catch {
      // The stream was cancelled or errored under us: the client is gone.
      this.#closed = true
      this.#finish()
      return true
    }
    return (this.#controller.desiredSize ?? 0) > 0
  }

  waitForDrain(): Promise<void> {
    if (!this.behind) return Promise.resolve()
    if (this.#drain === undefined) {
      this.#drain = new Promise((resolve) => {
        this.#resolveDrain = resolve
      })
    }
    return this.#drain
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      // What is queued is still delivered, then the body ends.
      this.#controller.close()
    } catch {
      // already cancelled
    }
    this.#finish()
  }

  destroy(reason?: unknown): void {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#controller.error(reason ?? dropped())
    } catch {
      // already cancelled
    }
    this.#finish()
  }

  readonly #onExternalAbort = (): void => {
    this.close()
  }

  readonly #onDrain = (): void => {
    const resolve = this.#resolveDrain
    this.#drain = undefined
    this.#resolveDrain = undefined
    resolve?.()
  }

  readonly #finish = (): void => {
    this.#closed = true
    this.#external?.removeEventListener('abort', this.#onExternalAbort)
    this.#onDrain()
    if (!this.#abort.signal.aborted) this.#abort.abort()
  }
}

/**
 * Checks extra headers up front, so that a bad one is a configuration error rather than a
 * `TypeError` from `new Response()` in the middle of a connect.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (field `headers`).
 * @internal
 */
export function validateFetchHeaders(headers: Record<string, string> | undefined): void {
  if (headers === undefined) return
  try {
    new Headers(headers)
  } catch (cause) {
    throw new SseError('SSE_ERR_OPTION_INVALID', 'invalid response header', { field: 'headers', cause })
  }
}

/**
 * Creates a {@link Sink} whose output is the body of a Fetch `Response`, to connect a client to a
 * hub (or stream events) yourself in Hono, Bun, Deno, workers or any `Request → Response` server.
 *
 * @param options - The high-water mark, the request's `signal`, extra headers.
 * @returns The sink; return `sink.response()` from your handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for a high-water mark that is not a positive integer,
 *   or an invalid header.
 * @example
 * import { createHub } from '@ssehub/core'
 * import { createFetchSink } from '@ssehub/server/fetch'
 *
 * const hub = createHub()
 * export default {
 *   fetch(request: Request): Response {
 *     const sink = createFetchSink({ signal: request.signal })
 *     hub.connect(sink, { channels: ['news'], lastEventId: request.headers.get('last-event-id') ?? undefined })
 *     return sink.response()
 *   },
 * }
 */
export function createFetchSink(options: FetchSinkOptions = {}): FetchSink {
  const highWaterMark = options.highWaterMarkBytes ?? DEFAULT_HIGH_WATER_MARK_BYTES
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
    throw new SseError(
      'SSE_ERR_OPTION_INVALID',
      `highWaterMarkBytes must be a positive integer, got ${highWaterMark}`,
      { field: 'highWaterMarkBytes' },
    )
  }
  validateFetchHeaders(options.headers)
  return new ReadableStreamSink(highWaterMark, options.headers, options.signal)
}
