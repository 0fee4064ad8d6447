import {
  createParser,
  isEventStreamContentType,
  type ParsedEvent,
  SseError,
  type SseParser,
} from '@ssehub/core/wire'
import { SseClientError, type SseClientErrorCode } from './client-error.js'
import type {
  ClientBody,
  ClientOptions,
  ClientTimers,
  LastEventIdStorage,
  RequestContext,
  UnauthorizedContext,
  VisibilitySource,
} from './client-options.js'
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_ITERATOR_BUFFER_SIZE,
  DEFAULT_MAX_RETRY_MS,
  DEFAULT_RETRY_MS,
  DEFAULT_STALL_MULTIPLIER,
  MAX_TIMER_MS,
  RESET_EVENT,
  STORAGE_KEY_PREFIX,
} from './defaults.js'
import {
  ClientErrorEvent,
  type DefaultEventMap,
  type EventMap,
  type MessageData,
  ResetEvent,
  type SseClientEventMap,
  type SseEvent,
  type SseMessageEvent,
} from './events.js'
import { backoffDelay, isRetryableStatus, retryAfterMs } from './retry-policy.js'
import type { StandardSchemaIssue, StandardSchemaResult, StandardSchemaV1 } from './standard-schema.js'

/** `readyState` values, as on `EventSource`. */
export type ReadyState = 0 | 1 | 2

const CONNECTING = 0
const OPEN = 1
const CLOSED = 2

/** Why the client aborted its own request. */
type AbortCause = 'closed' | 'paused' | 'stalled'

/** An event handler attribute (`onopen`, `onmessage`, ...), called with the client as `this`. */
type Handler<E> = ((this: SseClient<EventMap>, event: E) => unknown) | null

/** The buffer of one async iterator. */
interface Queue<T> {
  readonly items: T[]
  done: boolean
  error?: unknown
  /** Set while the consumer waits in next(). */
  notify?: (() => void) | undefined
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: CR, LF and NUL are what is rejected
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/

function invalid(field: string, message: string, cause?: unknown): SseError {
  return new SseError('SSE_ERR_OPTION_INVALID', `\`${field}\` ${message}`, { field, cause })
}

function count(field: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) throw invalid(field, `must be an integer >= ${min}.`)
  return value
}

function failure(code: SseClientErrorCode, message: string, cause?: unknown): SseClientError {
  return new SseClientError(code, message, { cause })
}

/** Headers carry byte strings; the standard sends the id UTF-8 encoded (ASCII is unchanged). */
function headerValue(id: string): string {
  return String.fromCharCode(...new TextEncoder().encode(id))
}

function discard(response: Response): void {
  // Frees the connection; a body already read or locked rejects, which is fine.
  response.body?.cancel().catch(() => {})
}

function documentVisibility(): VisibilitySource | undefined {
  if (typeof document === 'undefined') return undefined
  return {
    hidden: () => document.hidden,
    subscribe(onChange) {
      document.addEventListener('visibilitychange', onChange)
      return () => document.removeEventListener('visibilitychange', onChange)
    },
  }
}

/**
 * An event stream over `fetch`: an `EventSource`-compatible object (`readyState`, `onmessage`,
 * `addEventListener`, `close()`, ...) that is also an async iterable of its events. Create it
 * with {@link connect}. It connects at once, reconnects with `Last-Event-ID` and full-jitter
 * backoff over the server's `retry:`, detects stalled connections from the heartbeat interval,
 * and stops for good on 204, on a non-retryable status or a wrong content type.
 *
 * Events: `open`, `message` and every named event (a `MessageEvent` whose `data` is the raw
 * string, or the parsed and validated value), `reset` ({@link ResetEvent}), `error`
 * ({@link ClientErrorEvent}: `readyState` is CONNECTING when the client will reconnect, CLOSED when
 * it gave up, OPEN when only one event was dropped) and `close` (once, when readyState becomes
 * CLOSED for any reason, `close()` included).
 *
 * @typeParam M - The event map: event type → type of its data.
 * @example
 * const stream = new SseClient('/events?channel=news')
 * stream.onmessage = (e) => console.log(e.data, e.lastEventId)
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed overloads of EventTarget's own methods
export class SseClient<M extends EventMap = DefaultEventMap>
  extends EventTarget
  implements AsyncIterable<SseEvent<M>>
{
  static readonly CONNECTING = CONNECTING
  static readonly OPEN = OPEN
  static readonly CLOSED = CLOSED
  readonly CONNECTING = CONNECTING
  readonly OPEN = OPEN
  readonly CLOSED = CLOSED

  /** The absolute URL of the stream (reconnects always start from it, not from a redirect). */
  readonly url: string
  /** True when `credentials` is `'include'`. */
  readonly withCredentials: boolean

  /** Called for `open` events, like `EventSource.onopen`. */
  declare onopen: Handler<Event>
  /** Called for unnamed events, like `EventSource.onmessage`. */
  declare onmessage: Handler<SseMessageEvent<MessageData<M>, 'message'>>
  /** Called for `error` events. */
  declare onerror: Handler<ClientErrorEvent>
  /** Called for `reset` events. */
  declare onreset: Handler<ResetEvent>
  /** Called for the `close` event. */
  declare onclose: Handler<Event>

  // Options used per request or per event are read from #options when needed.
  readonly #options: ClientOptions<EventMap>
  readonly #maxRetryMs: number
  readonly #stallMs: number | undefined
  readonly #bufferSize: number
  readonly #storage: LastEventIdStorage | undefined
  readonly #storageKey: string
  readonly #visibility: VisibilitySource | undefined
  readonly #timers: ClientTimers
  readonly #parser: SseParser
  readonly #queues = new Set<Queue<MessageEvent>>()
  readonly #handlers = new Map<string, Handler<Event>>()
  readonly #cleanup: (() => void)[] = []

  #readyState: ReadyState = CONNECTING
  #retryMs: number
  #origin = ''
  #requests = 0
  #failures = 0
  #authRetried = false
  #unauthorized: UnauthorizedContext | undefined
  #retryAfterMs = 0
  #saved: string
  #controller: AbortController | undefined
  #abortCause: AbortCause | undefined
  #stallTimer: unknown
  #waiting: 'sleep' | 'visible' | 'drain' | undefined
  #wake: (() => void) | undefined
  /** Deliveries waiting for an async validator, so that events stay in order. */
  #chain: Promise<void> | undefined

  static {
    // The event handler attributes, defined once on the prototype. Like the standard's, each
    // registers its listener on first assignment and so runs in that position among listeners.
    for (const type of ['open', 'message', 'error', 'reset', 'close']) {
      Object.defineProperty(SseClient.prototype, `on${type}`, {
        get(this: SseClient<EventMap>) {
          return this.#handlers.get(type) ?? null
        },
        set(this: SseClient<EventMap>, handler: unknown) {
          if (!this.#handlers.has(type)) {
            this.addEventListener(type, (event) => {
              const current = this.#handlers.get(type)
              if (typeof current === 'function') current.call(this, event)
            })
          }
          this.#handlers.set(type, typeof handler === 'function' ? (handler as Handler<Event>) : null)
        },
      })
    }
  }

  /**
   * Creates the client and starts connecting; {@link connect} is the same as `new SseClient`.
   * @throws {SseError} `SSE_ERR_OPTION_INVALID` for an invalid URL or option.
   */
  constructor(url: string | URL, options: ClientOptions<M> = {}) {
    super()
    this.#options = options as ClientOptions<EventMap>
    try {
      this.url = new URL(url, globalThis.location?.href).href
    } catch (cause) {
      throw invalid('url', 'is not a valid URL.', cause)
    }
    if (options.body != null && /^(GET|HEAD|)$/i.test(options.method ?? '')) {
      throw invalid('body', 'is not allowed with GET or HEAD.')
    }
    this.withCredentials = options.credentials === 'include'
    this.#retryMs = count('retryMs', options.retryMs, DEFAULT_RETRY_MS, 0)
    this.#maxRetryMs = count('maxRetryMs', options.maxRetryMs, DEFAULT_MAX_RETRY_MS, 0)
    if (typeof options.reconnect === 'number') count('reconnect', options.reconnect, 0, 0)
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    const multiplier = options.stallMultiplier ?? DEFAULT_STALL_MULTIPLIER
    if (!(multiplier > 0 && Number.isFinite(multiplier))) throw invalid('stallMultiplier', 'must be > 0.')
    this.#stallMs =
      heartbeatMs === false
        ? undefined
        : Math.min(count('heartbeatMs', heartbeatMs, 0, 1) * multiplier, MAX_TIMER_MS)
    this.#bufferSize = count(
      'iteratorBufferSize',
      options.iteratorBufferSize,
      DEFAULT_ITERATOR_BUFFER_SIZE,
      1,
    )
    this.#timers = options.timers ?? globalThis
    this.#storage = options.storage || undefined
    this.#storageKey = options.storageKey ?? STORAGE_KEY_PREFIX + this.url

    let seed = options.lastEventId
    if (seed === undefined && this.#storage !== undefined) {
      try {
        const stored = this.#storage.getItem(this.#storageKey)
        if (stored !== null && !LINE_BREAK_OR_NUL.test(stored)) seed = stored
      } catch {
        // Storage may be disabled (privacy mode, sandboxed frame): start from nothing.
      }
    }
    if (seed !== undefined && (typeof seed !== 'string' || LINE_BREAK_OR_NUL.test(seed))) {
      throw invalid('lastEventId', 'must not contain CR, LF or NUL.')
    }
    this.#saved = seed ?? ''
    this.#parser = createParser({
      onEvent: (event) => this.#onEvent(event),
      onRetry: (ms) => {
        this.#retryMs = ms
      },
      onError: (cause) =>
        this.#enqueue(() => this.#report(failure('SSE_ERR_CLIENT_BUFFER_OVERFLOW', cause.message, cause))),
      ...(options.maxBufferSize === undefined ? {} : { maxBufferSize: options.maxBufferSize }),
    })
    if (seed) {
      // The parser has no setter for its last event id: an id-only block sets it, and reset()
      // forgets the stream but keeps the id, exactly as for a real stream.
      this.#parser.feed(`id: ${seed}\n\n`)
      this.#parser.reset()
    }

    const visibility = options.pauseWhenHidden ? (options.visibility ?? documentVisibility()) : undefined
    this.#visibility = visibility
    if (visibility !== undefined) this.#cleanup.push(visibility.subscribe(() => this.#visibilityChanged()))
    const signal = options.signal
    if (signal !== undefined) {
      const onAbort = (): void => this.close()
      signal.addEventListener('abort', onAbort)
      this.#cleanup.push(() => signal.removeEventListener('abort', onAbort))
      if (signal.aborted) onAbort()
    }
    this.#run().catch((cause: unknown) =>
      this.#shutdown(failure('SSE_ERR_CLIENT_REQUEST', 'Client failure.', cause)),
    )
  }

  /** CONNECTING (0), OPEN (1) or CLOSED (2). */
  get readyState(): ReadyState {
    return this.#readyState
  }

  /**
   * The last event id: sent as `Last-Event-ID` on the next reconnect. Set by `id:` fields
   * (events and id-only blocks alike), by the `lastEventId` option, storage, and reset events.
   */
  get lastEventId(): string {
    return this.#parser.lastEventId
  }

  /**
   * Closes the stream for good: aborts the request, cancels any pending reconnect, ends the async
   * iterators (after the events they buffered) and fires `close`. Idempotent.
   */
  close(): void {
    this.#shutdown()
  }

  /**
   * Iterates over the events (message and named events, and {@link ResetEvent}s) from now on.
   * Leaving the loop (`break`, `return`, a throw) closes the stream. When the consumer is slow,
   * events wait in a buffer of `iteratorBufferSize`; once it is full the client stops reading
   * the network until the consumer catches up (the server then buffers, and may disconnect the
   * client, which resumes with `Last-Event-ID`): no event is dropped. The loop ends when the
   * stream closes or ends for good, and throws the {@link SseClientError} when it failed.
   * Events dropped as invalid are only reported through `error` events. Call `next()` again only
   * after the previous call settled (as `for await` does).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<SseEvent<M>> {
    const queue: Queue<MessageEvent> = { items: [], done: this.#closed() }
    if (!queue.done) this.#queues.add(queue)
    const next = (): Promise<IteratorResult<SseEvent<M>, undefined>> =>
      new Promise((resolve, reject) => {
        queue.notify = undefined
        if (queue.items.length > 0) {
          resolve({ done: false, value: queue.items.shift() as SseEvent<M> })
          if (this.#waiting === 'drain' && !this.#full()) this.#wake?.()
        } else if (queue.done) {
          const error = queue.error
          queue.error = undefined
          if (error === undefined) resolve({ done: true, value: undefined })
          else reject(error)
        } else queue.notify = () => next().then(resolve, reject)
      })
    return {
      next,
      return: (): Promise<IteratorReturnResult<undefined>> => {
        queue.items.length = 0
        queue.done = true
        this.#queues.delete(queue)
        this.close()
        return Promise.resolve({ done: true, value: undefined })
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  async #run(): Promise<void> {
    while (!this.#closed()) {
      if (this.#visibility?.hidden()) {
        await this.#pause('visible')
        continue
      }
      const controller = new AbortController()
      this.#controller = controller
      this.#abortCause = undefined
      this.#retryAfterMs = 0
      let error: SseClientError | undefined
      try {
        this.#armStall(controller)
        error = await this.#attempt(controller)
      } finally {
        this.#disarmStall()
        this.#controller = undefined
      }
      if (this.#closed()) return
      if (error === undefined) {
        // Paused while the page is hidden.
        this.#readyState = CONNECTING
        continue
      }
      const status = error.status
      if (status === 204) return this.#shutdown()
      if (status === 401 || status === 403) {
        if (await this.#authorize(error)) continue
        return
      }
      if (
        error.code === 'SSE_ERR_CLIENT_CONTENT_TYPE' ||
        (status !== undefined && !isRetryableStatus(status))
      ) {
        return this.#shutdown(error)
      }
      this.#failures++
      const delay = this.#delay(error)
      if (delay === false) return this.#shutdown(error)
      this.#readyState = CONNECTING
      this.dispatchEvent(new ClientErrorEvent(error))
      if (this.#closed()) return
      await this.#pause('sleep', delay)
    }
  }

  /**
   * One request, and the stream it opens until it ends: resolves with why it ended (a status
   * error, 204 included, is classified by #run), or undefined when aborted by close() or a pause.
   */
  async #attempt(controller: AbortController): Promise<SseClientError | undefined> {
    const signal = controller.signal
    const options = this.#options
    const attempt = ++this.#requests
    const lastEventId = this.lastEventId
    let response: Response
    try {
      const context: RequestContext = { attempt, lastEventId, signal }
      const init = options.headers
      const headers = new Headers(typeof init === 'function' ? await init(context) : init)
      if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
      if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache')
      if (lastEventId === '') headers.delete('last-event-id')
      else headers.set('last-event-id', headerValue(lastEventId))
      const body: ClientBody | undefined =
        typeof options.body === 'function' ? await options.body(context) : options.body
      // An undefined method or credentials is fetch's default: GET, same-origin.
      const request: RequestInit = {
        method: options.method as string,
        headers,
        credentials: options.credentials as RequestCredentials,
        cache: 'no-store',
        signal,
      }
      if (body != null) request.body = body
      // A local: calling options.fetch(...) would pass the options as `this`, and the browser's
      // fetch throws "Illegal invocation" on a receiver other than the global object.
      const fetcher = options.fetch ?? fetch
      response = await fetcher(this.url, request)
    } catch (cause) {
      return signal.aborted ? this.#aborted() : failure('SSE_ERR_CLIENT_REQUEST', 'Request failed.', cause)
    }
    const status = response.status
    const type = response.headers.get('content-type')
    if (signal.aborted || status !== 200 || !isEventStreamContentType(type)) {
      if (status === 401 || status === 403) {
        // Kept for the onUnauthorized hook, which may read the body.
        this.#unauthorized = { status, response, attempt }
      } else discard(response)
      if (signal.aborted) return this.#aborted()
      if (status !== 200) {
        this.#retryAfterMs = retryAfterMs(response.headers.get('retry-after'), Date.now())
        return new SseClientError('SSE_ERR_CLIENT_STATUS', `Status ${status}.`, { status })
      }
      return failure('SSE_ERR_CLIENT_CONTENT_TYPE', `Not text/event-stream: ${type}`)
    }

    this.#origin = new URL(response.url || this.url).origin
    this.#parser.reset()
    this.#authRetried = false
    this.#readyState = OPEN
    this.dispatchEvent(new Event('open'))
    const reader = response.body?.getReader()
    try {
      while (reader !== undefined && !signal.aborted) {
        const { done, value } = await reader.read()
        if (done || signal.aborted) break
        this.#armStall(controller)
        // A connection that delivers bytes is healthy: the backoff starts over.
        this.#failures = 0
        this.#parser.feed(value)
        this.#persist()
        if (this.#chain !== undefined) await this.#chain
        if (this.#full()) {
          this.#disarmStall()
          while (!signal.aborted && this.#full()) await this.#pause('drain')
          this.#armStall(controller)
        }
      }
    } catch (cause) {
      if (!signal.aborted) return failure('SSE_ERR_CLIENT_DISCONNECTED', 'Connection lost.', cause)
    }
    // After an abort, fetch has already errored the body: nothing to cancel.
    return signal.aborted ? this.#aborted() : failure('SSE_ERR_CLIENT_ENDED', 'Stream ended.')
  }

  #aborted(): SseClientError | undefined {
    return this.#abortCause === 'stalled'
      ? failure('SSE_ERR_CLIENT_STALLED', `Stalled: no byte for ${this.#stallMs} ms.`)
      : undefined
  }

  /** Asks `onUnauthorized` whether to retry; true to retry now, false when the client closed. */
  async #authorize(error: SseClientError): Promise<boolean> {
    const hook = this.#options.onUnauthorized
    const context = this.#unauthorized as UnauthorizedContext
    this.#unauthorized = undefined
    let retry = false
    if (hook !== undefined && !this.#authRetried) {
      this.#authRetried = true
      try {
        retry = (await hook(context)) === true
      } catch (cause) {
        error = new SseClientError('SSE_ERR_CLIENT_STATUS', error.message, { status: context.status, cause })
      }
    }
    discard(context.response)
    if (this.#closed()) return false
    if (!retry) this.#shutdown(error)
    return retry
  }

  #delay(error: SseClientError): number | false {
    const floorMs = this.#retryAfterMs
    const policy = this.#options.reconnect ?? true
    if (policy === false) return false
    const attempt = this.#failures
    const random = this.#options.random ?? Math.random
    const backoff = Math.max(backoffDelay(attempt, this.#retryMs, this.#maxRetryMs, random), floorMs)
    const delay =
      typeof policy === 'number'
        ? Math.max(policy, floorMs)
        : typeof policy === 'function'
          ? policy(attempt, error, backoff)
          : backoff
    return typeof delay === 'number' && delay >= 0 ? Math.min(delay, MAX_TIMER_MS) : false
  }

  #armStall(controller: AbortController): void {
    if (this.#stallMs === undefined) return
    this.#disarmStall()
    this.#stallTimer = this.#timers.setTimeout(() => this.#abort(controller, 'stalled'), this.#stallMs)
  }

  #disarmStall(): void {
    if (this.#stallTimer !== undefined) this.#timers.clearTimeout(this.#stallTimer)
    this.#stallTimer = undefined
  }

  #abort(controller: AbortController | undefined, cause: AbortCause): void {
    if (controller === undefined || controller.signal.aborted) return
    this.#abortCause = cause
    controller.abort()
    if (this.#waiting === 'drain') this.#wake?.()
  }

  /** Waits for a timer (`ms`), or for whoever calls #wake: close, visibility, a drained iterator. */
  #pause(kind: 'sleep' | 'visible' | 'drain', ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: unknown
      this.#waiting = kind
      this.#wake = () => {
        if (timer !== undefined) this.#timers.clearTimeout(timer)
        this.#wake = undefined
        this.#waiting = undefined
        resolve()
      }
      if (ms !== undefined) timer = this.#timers.setTimeout(() => this.#wake?.(), ms)
    })
  }

  #visibilityChanged(): void {
    if (this.#closed()) return
    if (this.#visibility?.hidden()) this.#abort(this.#controller, 'paused')
    else if (this.#waiting === 'visible') this.#wake?.()
  }

  /** A method, not a field read, so that TypeScript does not narrow it across listener calls. */
  #closed(): boolean {
    return this.#readyState === CLOSED
  }

  #full(): boolean {
    for (const queue of this.#queues) if (queue.items.length >= this.#bufferSize) return true
    return false
  }

  #persist(): void {
    const id = this.#parser.lastEventId
    if (this.#storage === undefined || id === this.#saved) return
    this.#saved = id
    try {
      if (id === '') this.#storage.removeItem(this.#storageKey)
      else this.#storage.setItem(this.#storageKey, id)
    } catch {
      // A full or disabled storage only costs the resume after a reload.
    }
  }

  /** Runs deliveries in order: synchronously unless an async validator is still pending. */
  #enqueue(task: () => void | Promise<void>): void {
    const chain = this.#chain === undefined ? task() : this.#chain.then(task)
    if (chain === undefined) return
    this.#chain = chain
    chain.then(() => {
      if (this.#chain === chain) this.#chain = undefined
    })
  }

  #onEvent(parsed: ParsedEvent): void {
    this.#enqueue(() => {
      if (parsed.type !== RESET_EVENT) return this.#decode(parsed)
      this.#emit(new ResetEvent({ data: parsed.data, lastEventId: parsed.lastEventId, origin: this.#origin }))
    })
  }

  #decode(parsed: ParsedEvent): void | Promise<void> {
    let data: unknown = parsed.data
    if (this.#options.json) {
      try {
        data = JSON.parse(parsed.data)
      } catch (cause) {
        return this.#invalid(parsed, 'is not JSON', cause)
      }
    }
    // Reading `~standard` also skips what the prototype holds (an event named `constructor`).
    const schemas = this.#options.schemas as Record<string, StandardSchemaV1 | undefined> | undefined
    const schema = schemas?.[parsed.type]?.['~standard']
    if (schema === undefined) return this.#message(parsed, data)
    let result: StandardSchemaResult<unknown> | Promise<StandardSchemaResult<unknown>>
    try {
      result = schema.validate(data)
    } catch (cause) {
      return this.#invalid(parsed, 'failed validation', cause)
    }
    if (result instanceof Promise) {
      return result.then(
        (settled) => this.#validated(parsed, settled),
        (cause: unknown) => this.#invalid(parsed, 'failed validation', cause),
      )
    }
    this.#validated(parsed, result)
  }

  #validated(parsed: ParsedEvent, result: StandardSchemaResult<unknown>): void {
    if (result.issues === undefined) this.#message(parsed, result.value)
    else this.#invalid(parsed, 'failed validation', undefined, result.issues)
  }

  #invalid(
    parsed: ParsedEvent,
    what: string,
    cause?: unknown,
    issues?: readonly StandardSchemaIssue[],
  ): void {
    const message = `A \`${parsed.type}\` event ${what}: dropped.`
    this.#report(
      new SseClientError('SSE_ERR_CLIENT_EVENT_INVALID', message, { event: parsed, cause, issues }),
    )
  }

  #message(parsed: ParsedEvent, data: unknown): void {
    this.#emit(new MessageEvent(parsed.type, { data, lastEventId: parsed.lastEventId, origin: this.#origin }))
  }

  #emit(event: MessageEvent): void {
    if (this.#closed()) return
    for (const queue of this.#queues) {
      queue.items.push(event)
      queue.notify?.()
    }
    this.dispatchEvent(event)
  }

  /** A non-fatal error: reported, the stream goes on. */
  #report(error: SseClientError): void {
    if (!this.#closed()) this.dispatchEvent(new ClientErrorEvent(error))
  }

  #shutdown(error?: SseClientError): void {
    if (this.#closed()) return
    this.#readyState = CLOSED
    this.#abort(this.#controller, 'closed')
    this.#disarmStall()
    this.#wake?.()
    for (const cleanup of this.#cleanup.splice(0)) cleanup()
    for (const queue of this.#queues) {
      queue.done = true
      // The end of a stream that may not reconnect is its normal end for an iterator.
      if (error?.code !== 'SSE_ERR_CLIENT_ENDED') queue.error = error
      queue.notify?.()
    }
    this.#queues.clear()
    if (error !== undefined) this.dispatchEvent(new ClientErrorEvent(error))
    this.dispatchEvent(new Event('close'))
  }
}

/**
 * The event a listener of `type` gets: the map's (or a built-in) event, else a `MessageEvent`
 * (an event type the map does not declare).
 */
export type ListenerEvent<M extends EventMap, K extends string> = K extends keyof SseClientEventMap<M>
  ? SseClientEventMap<M>[K]
  : MessageEvent

/** Typed listeners for the client's events; an object listener takes the untyped signature. */
export interface SseClient<M extends EventMap> {
  addEventListener<K extends string>(
    type: K,
    listener: (this: SseClient<EventMap>, event: ListenerEvent<M, K>) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void
  removeEventListener<K extends string>(
    type: K,
    listener: (this: SseClient<EventMap>, event: ListenerEvent<M, K>) => unknown,
    options?: boolean | EventListenerOptions,
  ): void
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void
}
