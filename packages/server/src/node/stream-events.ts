import type { IncomingMessage, ServerResponse } from 'node:http'
import { DEFAULT_HEARTBEAT_MS, DEFAULT_RETRY_MS, ERROR_EVENT, SseError } from '@ssehub/core'
import { encodeComment, encodeControl, encodeEvent } from '@ssehub/core/wire'
import { addHeartbeat, type Beating, removeHeartbeat } from './heartbeat.js'
import { lastEventIdOf } from './last-event-id-of.js'
import { createNodeSink, type NodeSink } from './node-sink.js'
import { encodeStreamValue } from './sse-event.js'

/**
 * The event type of the last event of a stream whose iterator failed; its data is `{"message": ...}`.
 * @example
 * // in the browser
 * source.addEventListener('ssehub.error', (e) => console.warn(JSON.parse(e.data).message))
 */
export const STREAM_ERROR_EVENT = ERROR_EVENT

/**
 * What a source function of {@link streamEvents} is called with.
 * @example
 * await streamEvents(req, res, async function* ({ lastEventId, signal }: StreamContext) {
 *   for await (const order of orders.since(lastEventId, { signal })) yield sseEvent({ id: order.id, data: order })
 * })
 */
export interface StreamContext {
  /** The id the client resumes after (see {@link lastEventIdOf}), or `undefined`. */
  readonly lastEventId: string | undefined
  /** Aborted when the client disconnects: pass it to whatever the source awaits. */
  readonly signal: AbortSignal
}

/**
 * What {@link streamEvents} streams: an async iterable, or a function making one per request.
 * @example
 * const ticks: StreamSource = async function* () {
 *   for (let n = 1; n <= 3; n++) yield { n }
 * }
 */
export type StreamSource = AsyncIterable<unknown> | ((context: StreamContext) => AsyncIterable<unknown>)

/**
 * Options of {@link streamEvents}.
 * @example
 * const options: StreamEventsOptions = {
 *   heartbeatMs: 30_000,
 *   retryMs: 5_000,
 *   errorMessage: () => 'feed unavailable, retrying',
 *   onError: (error) => logger.error(error),
 * }
 * await streamEvents(req, res, feed(), options)
 */
export interface StreamEventsOptions {
  /**
   * The `retry:` hint sent first (the client's reconnection time), in milliseconds; `false` for none.
   * @defaultValue 2000 ({@link DEFAULT_RETRY_MS})
   */
  retryMs?: number | false
  /**
   * Interval of heartbeat comments, from a timer shared by all streams; `false` for none.
   * @defaultValue 15000 ({@link DEFAULT_HEARTBEAT_MS})
   */
  heartbeatMs?: number | false
  /**
   * Extra response headers, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
  /**
   * The message of the final `ssehub.error` event sent when the iterator fails. Mind what you
   * reveal: the client sees it.
   * @defaultValue `() => 'stream failed'`, so that internals never leak
   */
  errorMessage?: (error: unknown) => string
  /**
   * Told about every error of the stream: thrown by the iterator (or its `return()`), or a value
   * that could not be encoded.
   * @defaultValue none
   */
  onError?: (error: unknown) => void
}

const GENERIC_ERROR_MESSAGE = 'stream failed'
const encoder = new TextEncoder()
const HEARTBEAT = encoder.encode(encodeComment(''))
/** Resolves a pull early when the client goes away. */
const ABORTED = Symbol('aborted')

let activeStreams = 0

/**
 * How many {@link streamEvents} streams are in progress in this process, for health checks, metrics
 * and leak tests.
 * @returns The count.
 * @example
 * import { activeStreamCount } from '@ssehub/server/node'
 * console.log(`${activeStreamCount()} open streams`)
 */
export function activeStreamCount(): number {
  return activeStreams
}

/**
 * Streams the values of an async iterable as server-sent events, without a hub: "the generator way".
 *
 * Writes the head (and a `retry:` hint) at once, then sends every value the source yields as one
 * event: a string as data, as-is (line breaks allowed); an {@link sseEvent} with its fields; any
 * other value as JSON data. It honours backpressure: when the client falls behind, the next
 * value is pulled only after the response drained, so a slow client slows the source down rather
 * than filling memory. Heartbeat comments keep proxies from closing a quiet stream.
 *
 * The returned promise never rejects. It resolves when the stream is over:
 * - the source is done: the response ends (a browser's `EventSource` reconnects after `retry`);
 * - the client disconnects: the iterator's `return()` is called, so a generator's `finally` runs
 *   (at once if it waits at a `yield`; if it is inside an `await`, when that settles: pass
 *   `context.signal` to what it awaits);
 * - the source throws, or yields a value that cannot be encoded: a last event of type
 *   `ssehub.error` ({@link STREAM_ERROR_EVENT}) with data `{"message": ...}` is sent, the response
 *   ends, and `options.onError` is told.
 *
 * @param req - The request (for `Last-Event-ID`, and its socket is tuned for streaming).
 * @param res - The response to stream to.
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns A promise that resolves when the stream is over.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (synchronously) for an invalid `retryMs`, `heartbeatMs` or
 *   header.
 * @example
 * import { createServer } from 'node:http'
 * import { setTimeout as sleep } from 'node:timers/promises'
 * import { sseEvent, streamEvents } from '@ssehub/server/node'
 *
 * createServer((req, res) => {
 *   void streamEvents(req, res, async function* ({ lastEventId, signal }) {
 *     let n = Number(lastEventId ?? 0)
 *     while (true) {
 *       await sleep(1000, undefined, { signal })
 *       n++
 *       yield sseEvent({ event: 'tick', id: String(n), data: { n } })
 *     }
 *   })
 * }).listen(8080)
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Promise<void> {
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS
  if (retryMs !== false && (!Number.isSafeInteger(retryMs) || retryMs < 0)) {
    const message = `retryMs must be a non-negative integer or false, got ${retryMs}`
    throw new SseError('SSE_ERR_OPTION_INVALID', message, { field: 'retryMs' })
  }
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  if (heartbeatMs !== false && (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 1)) {
    const message = `heartbeatMs must be a positive integer or false, got ${heartbeatMs}`
    throw new SseError('SSE_ERR_OPTION_INVALID', message, { field: 'heartbeatMs' })
  }
  const sink = createNodeSink(req, res, options.headers === undefined ? {} : { headers: options.headers })
  const stream = new EventStream(sink, res, options)
  return stream.run(req, source, retryMs, heartbeatMs).catch((error: unknown) => stream.abandon(error))
}

/** One stream in progress. */
class EventStream implements Beating {
  readonly #sink: NodeSink
  readonly #res: ServerResponse
  readonly #options: StreamEventsOptions
  /** Settles the pull in progress early, when the client goes away. */
  #wake: ((value: typeof ABORTED) => void) | undefined

  constructor(sink: NodeSink, res: ServerResponse, options: StreamEventsOptions) {
    this.#sink = sink
    this.#res = res
    this.#options = options
  }

  async run(
    req: IncomingMessage,
    source: StreamSource,
    retryMs: number | false,
    heartbeatMs: number | false,
  ): Promise<void> {
    const sink = this.#sink
    const signal = sink.signal
    activeStreams++
    if (heartbeatMs !== false) addHeartbeat(heartbeatMs, this)
    signal.addEventListener('abort', this.#onAbort, { once: true })
    try {
      sink.open()
      if (retryMs !== false) sink.write(encoder.encode(encodeControl({ retry: retryMs })))
      let iterator: AsyncIterator<unknown>
      try {
        const iterable =
          typeof source === 'function' ? source({ lastEventId: lastEventIdOf(req), signal }) : source
        iterator = iterable[Symbol.asyncIterator]()
      } catch (error) {
        this.#fail(error)
        return
      }
      await this.#pump(iterator)
    } finally {
      signal.removeEventListener('abort', this.#onAbort)
      if (heartbeatMs !== false) removeHeartbeat(heartbeatMs, this)
      activeStreams--
    }
  }

  /** @internal A bug of ours, not of the source: report it and drop the connection, never reject. */
  abandon(error: unknown): void {
    this.#report(error)
    this.#res.destroy()
  }

  /** @internal Called by the shared heartbeat timer. */
  beat(): void {
    // A client that is behind does not need heartbeats, and they would only pile up.
    if (!this.#res.writableNeedDrain) this.#sink.write(HEARTBEAT)
  }

  async #pump(iterator: AsyncIterator<unknown>): Promise<void> {
    const sink = this.#sink
    for (;;) {
      // The client left while we waited for a drain: the iterator waits at a `yield`.
      if (sink.signal.aborted) return this.#closeIterator(iterator)
      let result: IteratorResult<unknown> | typeof ABORTED
      try {
        result = await this.#pull(iterator)
      } catch (error) {
        // The iterator threw: it is done, and there is nothing to close.
        this.#fail(error)
        return
      }
      if (result === ABORTED) {
        // The iterator is busy producing the next value: return() runs after it, so do not wait.
        this.#closeIterator(iterator).then(undefined, this.#report)
        return
      }
      if (result.done === true) {
        sink.close()
        return
      }
      let chunk: Uint8Array
      try {
        chunk = encoder.encode(encodeStreamValue(result.value))
      } catch (error) {
        this.#fail(error)
        return this.#closeIterator(iterator)
      }
      if (!sink.write(chunk)) await sink.waitForDrain()
    }
  }

  #pull(iterator: AsyncIterator<unknown>): Promise<IteratorResult<unknown> | typeof ABORTED> {
    return new Promise((resolve, reject) => {
      this.#wake = resolve
      iterator.next().then(resolve, reject)
    })
  }

  readonly #onAbort = (): void => {
    this.#wake?.(ABORTED)
  }

  async #closeIterator(iterator: AsyncIterator<unknown>): Promise<void> {
    try {
      await iterator.return?.()
    } catch (error) {
      this.#report(error)
    }
  }

  /** Ends the stream with a final error event that reveals nothing unless the application says so. */
  #fail(error: unknown): void {
    this.#report(error)
    const sink = this.#sink
    if (sink.signal.aborted) return
    let message = GENERIC_ERROR_MESSAGE
    const errorMessage = this.#options.errorMessage
    if (errorMessage !== undefined) {
      try {
        const custom: unknown = errorMessage(error)
        if (typeof custom === 'string') message = custom
      } catch (reportError) {
        this.#report(reportError)
      }
    }
    const data = JSON.stringify({ message })
    sink.write(encoder.encode(encodeEvent({ event: STREAM_ERROR_EVENT, data })))
    sink.close()
  }

  readonly #report = (error: unknown): void => {
    const onError = this.#options.onError
    if (onError === undefined) return
    try {
      onError(error)
    } catch {
      // An error reporter that fails must not take the process down.
    }
  }
}
