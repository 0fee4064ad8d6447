import { validateHeaderName, validateHeaderValue } from 'node:http'
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import { type Sink, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'

/**
 * Options of {@link createHttp2Sink}.
 * @example
 * const sink = createHttp2Sink(stream, { headers: { 'access-control-allow-origin': 'https://app.example' } })
 */
export interface Http2SinkOptions {
  /**
   * Extra response headers, added to (and overriding) the event-stream headers. Connection-specific
   * headers (`connection`, `keep-alive`, `transfer-encoding`, ...) are forbidden on HTTP/2 and are
   * left out.
   * @defaultValue none
   */
  headers?: OutgoingHttpHeaders
}

/**
 * A {@link Sink} over a `node:http2` server stream, with {@link Http2Sink.open} to send the head.
 *
 * Nothing is sent until the first write or `open()`, so a caller can still validate (and answer
 * 400) after creating the sink.
 * @example
 * const sink: Http2Sink = createHttp2Sink(stream)
 * hub.connect(sink, { channels: ['news'] }) // throws SseError on invalid channels: nothing sent yet
 * sink.open()
 */
export interface Http2Sink extends Sink {
  /** Sends the head now (`:status` 200 and the event-stream headers) if not sent yet. Idempotent. */
  open(): void
  /** True once the head was sent. */
  readonly opened: boolean
  /** True while the peer has not taken what was written (its flow-control window is exhausted). */
  readonly behind: boolean
  /**
   * Resets the stream (`RST_STREAM` with `CANCEL`) instead of ending it: for a client that fell a
   * whole queue behind, whose unsent output must not be kept. Idempotent.
   */
  destroy(): void
}

/** Headers HTTP/2 forbids (RFC 9113, section 8.2.2); Node throws on them. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
])

/**
 * Copies `extra` into `head` with lowercase names, leaving out what HTTP/2 forbids: connection-
 * specific headers and pseudo-headers.
 * @internal
 */
export function assignHttp2Headers(head: OutgoingHttpHeaders, extra: OutgoingHttpHeaders | undefined): void {
  if (extra === undefined) return
  for (const [name, value] of Object.entries(extra)) {
    const lower = name.toLowerCase()
    if (value === undefined || CONNECTION_SPECIFIC.has(lower) || lower.startsWith(':')) continue
    head[lower] = value
  }
}

/**
 * The head of an event stream on HTTP/2: status 200, the event-stream headers without
 * `connection`, then `extra`.
 * @internal
 */
export function http2Head(extra: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders {
  const head: OutgoingHttpHeaders = { ...sseHeaders({ http2: true }) }
  assignHttp2Headers(head, extra)
  head[constants.HTTP2_HEADER_STATUS] = 200
  return head
}

class Http2StreamSink implements Http2Sink {
  readonly #stream: ServerHttp2Stream
  readonly #headers: OutgoingHttpHeaders | undefined
  readonly #controller = new AbortController()
  #opened = false
  #closed = false
  #drain: Promise<void> | undefined
  #resolveDrain: (() => void) | undefined

  constructor(stream: ServerHttp2Stream, headers: OutgoingHttpHeaders | undefined) {
    this.#stream = stream
    this.#headers = headers
    stream.on('close', this.#onClose)
    stream.on('drain', this.#onDrain)
    // Without a listener, a stream error (the peer reset it) would crash the process.
    stream.on('error', this.#onClose)
    if (stream.destroyed || stream.closed) this.#onClose()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get opened(): boolean {
    return this.#opened
  }

  get behind(): boolean {
    return !this.#closed && this.#stream.writableNeedDrain
  }

  open(): void {
    if (this.#opened || this.#closed) return
    this.#opened = true
    const stream = this.#stream
    // The HEADERS frame goes out at once: the client sees the stream open before any event.
    if (!stream.headersSent) stream.respond(http2Head(this.#headers))
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed) return true
    const stream = this.#stream
    if (stream.destroyed) {
      this.#onClose()
      return true
    }
    if (!this.#opened) this.open()
    return stream.write(chunk)
  }

  waitForDrain(): Promise<void> {
    if (this.#closed || !this.#stream.writableNeedDrain) return Promise.resolve()
    if (this.#drain === undefined) {
      this.#drain = new Promise((resolve) => {
        this.#resolveDrain = resolve
      })
    }
    return this.#drain
  }

  close(): void {
    if (this.#closed) return
    const stream = this.#stream
    if (!this.#opened && !stream.destroyed) this.open()
    this.#closed = true
    if (!stream.writableEnded && !stream.destroyed) stream.end()
    this.#finish()
  }

  destroy(): void {
    const stream = this.#stream
    this.#closed = true
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL)
    this.#finish()
  }

  readonly #onClose = (): void => {
    this.#closed = true
    this.#finish()
  }

  readonly #onDrain = (): void => {
    const resolve = this.#resolveDrain
    this.#drain = undefined
    this.#resolveDrain = undefined
    resolve?.()
  }

  #finish(): void {
    this.#onDrain()
    if (!this.#controller.signal.aborted) this.#controller.abort()
  }
}

/**
 * Checks extra headers up front, so that a bad one is a configuration error rather than a throw
 * from `stream.respond()` in the middle of a connect.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (field `headers`).
 * @internal
 */
export function validateHttp2Headers(headers: OutgoingHttpHeaders | undefined): void {
  if (headers === undefined) return
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    try {
      validateHeaderName(name)
      for (const item of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(item))
    } catch (cause) {
      throw new SseError('SSE_ERR_OPTION_INVALID', `invalid response header ${JSON.stringify(name)}`, {
        field: 'headers',
        cause,
      })
    }
  }
}

/**
 * Creates a {@link Sink} over a `node:http2` server stream (TLS or h2c), to connect a client to a
 * hub yourself.
 *
 * The head (`:status` 200, the event-stream headers without any connection-specific header, plus
 * `options.headers`) is sent on the first write or on {@link Http2Sink.open}. Writes go straight
 * to `stream.write`; `write()` returns false when the peer's flow-control window and the stream's
 * buffer are full, and `waitForDrain()` resolves on the stream's `drain`. The signal aborts when
 * the stream closes (the client went away, or reset it).
 *
 * @param stream - The server stream, from the server's `'stream'` event or `req.stream`.
 * @param options - Extra headers.
 * @returns The sink.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header.
 * @example
 * import { createServer } from 'node:http2'
 * import { createHub } from '@ssehub/core'
 * import { createHttp2Sink } from '@ssehub/server/http2'
 *
 * const hub = createHub()
 * createServer().on('stream', (stream) => {
 *   const sink = createHttp2Sink(stream)
 *   hub.connect(sink, { channels: ['news'] })
 *   sink.open()
 * }).listen(8443)
 */
export function createHttp2Sink(stream: ServerHttp2Stream, options: Http2SinkOptions = {}): Http2Sink {
  validateHttp2Headers(options.headers)
  return new Http2StreamSink(stream, options.headers)
}
