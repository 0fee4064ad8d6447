/**
 * The runtime-neutral engine behind `streamEvents` of the Fetch, Hono, HTTP/2 and Express
 * adapters: it pumps an async iterable into a {@link Sink}, one event per value, with a `retry:`
 * hint, shared heartbeats, backpressure (the iterator is not pulled while the peer is behind) and
 * a final `ssehub.error` event when the source fails. No `node:` import: it runs on any runtime.
 * @internal
 */
import { DEFAULT_HEARTBEAT_MS, DEFAULT_RETRY_MS, ERROR_EVENT, type Sink, SseError } from '@ssehub/core'
import { encodeComment, encodeControl, encodeEvent } from '@ssehub/core/wire'
import { encodeStreamValue } from '../node/sse-event.js'
import { addHeartbeat, type Beating, removeHeartbeat } from './heartbeat.js'

/**
 * What a source function of `streamEvents` is called with.
 * @example
 * const source = async function* ({ lastEventId, signal }: StreamContext) {
 *   for await (const order of orders.since(lastEventId, { signal })) yield sseEvent({ id: order.id, data: order })
 * }
 */
export interface StreamContext {
  /** The id the client resumes after (`Last-Event-ID`, else the `lastEventId` query parameter), or `undefined`. */
  readonly lastEventId: string | undefined
  /** Aborted when the client disconnects: pass it to whatever the source awaits. */
  readonly signal: AbortSignal
}

/**
 * What `streamEvents` streams: an async iterable, or a function making one per request.
 * @example
 * const ticks: StreamSource = async function* () {
 *   for (let n = 1; n <= 3; n++) yield { n }
 * }
 */
export type StreamSource = AsyncIterable<unknown> | ((context: StreamContext) => AsyncIterable<unknown>)

/**
 * Options of `streamEvents`, the same in every adapter.
 * @example
 * const options: StreamEventsOptions = { heartbeatMs: 30_000, retryMs: 5_000, onError: (error) => log(error) }
 */
export interface StreamEventsOptions {
  /**
   * The `retry:` hint sent first (the client's reconnection time), in milliseconds; `false` for none.
   * @defaultValue 2000 (`DEFAULT_RETRY_MS`)
   */
  retryMs?: number | false
  /**
   * Interval of heartbeat comments, from a timer shared by all streams; `false` for none.
   * @defaultValue 15000 (`DEFAULT_HEARTBEAT_MS`)
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

/** A sink the pump can open, ask whether the peer is behind, and drop. */
export interface PumpTarget extends Sink {
  /** Sends the head now, for a transport that writes it apart from the body. */
  open?(): void
  /** True while the peer has not taken what was written (a heartbeat would only pile up). */
  readonly behind: boolean
  /** Drops the connection without ending the response cleanly. */
  destroy(): void
}

/** The validated timing options of a stream. */
export interface StreamTiming {
  readonly retryMs: number | false
  readonly heartbeatMs: number | false
}

/** Counts the streams in progress of one adapter. */
export interface StreamCounter {
  count: number
}

const GENERIC_ERROR_MESSAGE = 'stream failed'
const encoder = new TextEncoder()
const HEARTBEAT = encoder.encode(encodeComment(''))
/** Resolves a pull early when the client goes away. */
const ABORTED = Symbol('aborted')

/**
 * Validates `retryMs` and `heartbeatMs` and applies their defaults.
 * @throws SseError `SSE_ERR_OPTION_INVALID` naming the field.
 */
export function resolveTiming(options: StreamEventsOptions): StreamTiming {
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
  return { retryMs, heartbeatMs }
}

/**
 * Streams `source` into `target` until the source is done, fails, or the client leaves. Never
 * rejects: a bug of ours is reported to `onError` and drops the connection.
 */
export function pumpEvents(
  target: PumpTarget,
  source: StreamSource,
  lastEventId: string | undefined,
  options: StreamEventsOptions,
  timing: StreamTiming,
  counter: StreamCounter,
): Promise<void> {
  const pump = new EventPump(target, options)
  return pump.run(source, lastEventId, timing, counter).catch((error: unknown) => pump.abandon(error))
}

/** One stream in progress. */
class EventPump implements Beating {
  readonly #target: PumpTarget
  readonly #options: StreamEventsOptions
  /** Settles the pull in progress early, when the client goes away. */
  #wake: ((value: typeof ABORTED) => void) | undefined

  constructor(target: PumpTarget, options: StreamEventsOptions) {
    this.#target = target
    this.#options = options
  }

  async run(
    source: StreamSource,
    lastEventId: string | undefined,
    { retryMs, heartbeatMs }: StreamTiming,
    counter: StreamCounter,
  ): Promise<void> {
    const target = this.#target
    const signal = target.signal
    counter.count++
    if (heartbeatMs !== false) addHeartbeat(heartbeatMs, this)
    signal.addEventListener('abort', this.#onAbort, { once: true })
    try {
      target.open?.()
      if (retryMs !== false) target.write(encoder.encode(encodeControl({ retry: retryMs })))
      let iterator: AsyncIterator<unknown>
      try {
        const iterable = typeof source === 'function' ? source({ lastEventId, signal }) : source
        iterator = iterable[Symbol.asyncIterator]()
      } catch (error) {
        this.#fail(error)
        return
      }
      await this.#pump(iterator)
    } finally {
      signal.removeEventListener('abort', this.#onAbort)
      if (heartbeatMs !== false) removeHeartbeat(heartbeatMs, this)
      counter.count--
    }
  }

  /** A bug of ours, not of the source: report it and drop the connection, never reject. */
  abandon(error: unknown): void {
    this.#report(error)
    this.#target.destroy()
  }

  /** Called by the shared heartbeat timer. */
  beat(): void {
    // A client that is behind does not need heartbeats, and they would only pile up.
    if (!this.#target.behind) this.#target.write(HEARTBEAT)
  }

  async #pump(iterator: AsyncIterator<unknown>): Promise<void> {
    const target = this.#target
    for (;;) {
      // The client left while we waited for a drain: the iterator waits at a `yield`.
      if (target.signal.aborted) return this.#closeIterator(iterator)
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
        target.close()
        return
      }
      let chunk: Uint8Array
      try {
        chunk = encoder.encode(encodeStreamValue(result.value))
      } catch (error) {
        this.#fail(error)
        return this.#closeIterator(iterator)
      }
      if (!target.write(chunk)) await target.waitForDrain()
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
    const target = this.#target
    if (target.signal.aborted) return
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
    target.write(encoder.encode(encodeEvent({ event: ERROR_EVENT, data })))
    target.close()
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
