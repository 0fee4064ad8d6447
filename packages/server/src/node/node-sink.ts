import { type IncomingMessage, type ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http'
import { type Sink, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'

/**
 * Options of {@link createNodeSink}.
 * @example
 * const sink = createNodeSink(req, res, { headers: { 'access-control-allow-origin': 'https://app.example' } })
 */
export interface NodeSinkOptions {
  /**
   * Extra response headers, added to (and overriding) the event-stream headers of WIRE.md.
   * Headers set earlier with `res.setHeader()` (by CORS middleware, say) are kept too.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/**
 * A {@link Sink} over a `node:http` response, with one extra method: {@link NodeSink.open}.
 *
 * Nothing is written until the first {@link Sink.write} or {@link NodeSink.open}, so a caller can
 * still validate (and answer 400) after creating the sink.
 *
 * @example
 * const sink: NodeSink = createNodeSink(req, res)
 * hub.connect(sink, { channels: ['news'] }) // throws SseError on invalid channels: nothing written yet
 * sink.open() // flush the head now, even if the hub has nothing to send yet
 */
export interface NodeSink extends Sink {
  /**
   * Writes and flushes the head now (status 200 and the event-stream headers) if it was not
   * written yet, and readies the connection for a long-lived stream: Nagle off, no socket
   * inactivity timeout. Idempotent; does nothing once the sink is closed.
   */
  open(): void
  /** True once the head was written. */
  readonly opened: boolean
}

/**
 * Sink over a `ServerResponse`. Writes go straight to `res.write` (one call per chunk, no
 * buffering of our own); the only promise is the one a backpressure episode waits on.
 * @internal
 */
export class NodeResponseSink implements NodeSink {
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  readonly #headers: Record<string, string> | undefined
  readonly #controller = new AbortController()
  #opened = false
  #closed = false
  /**
   * Set when a write reported backpressure, cleared on 'drain'. Tracked here rather than read from
   * `res.writableNeedDrain`, which HTTP/2 compatibility responses do not have (a drain wait would
   * then resolve at once, in a loop).
   */
  #needDrain = false
  /** The promise of the backpressure episode in progress, shared by every waiter. */
  #drain: Promise<void> | undefined
  #resolveDrain: (() => void) | undefined

  constructor(req: IncomingMessage, res: ServerResponse, headers: Record<string, string> | undefined) {
    this.#req = req
    this.#res = res
    this.#headers = headers
    // 'close' is emitted when the response is done or the connection went away, whichever first.
    res.on('close', this.#onClose)
    res.on('drain', this.#onDrain)
    // Without a listener, an 'error' on the response (a write after the peer went away) would
    // crash the process; here it only ends the stream.
    res.on('error', this.#onClose)
    if (res.destroyed) this.#onClose()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get opened(): boolean {
    return this.#opened
  }

  open(): void {
    if (this.#opened || this.#closed) return
    this.#opened = true
    const res = this.#res
    if (!res.headersSent) {
      const headers = sseHeaders({ http2: this.#req.httpVersionMajor >= 2 })
      if (this.#headers !== undefined) Object.assign(headers, this.#headers)
      res.writeHead(200, headers)
      res.flushHeaders()
    }
    const socket = this.#req.socket as IncomingMessage['socket'] | null
    if (socket !== null) {
      // Events are small and latency-bound: send each one at once rather than coalesce.
      socket.setNoDelay(true)
      // A quiet stream is not an idle connection: `server.timeout` must not cut it. The server's
      // requestTimeout/headersTimeout only run until the request has been received, so they keep
      // guarding against slowloris without limiting how long the response lasts.
      socket.setTimeout(0)
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed) return true
    const res = this.#res
    if (res.destroyed) {
      // The connection is gone but 'close' has not been emitted yet. Returning false here would
      // have the writer wait for a drain that resolves at once, in a loop: end it now instead.
      this.#onClose()
      return true
    }
    if (!this.#opened) this.open()
    const ok = res.write(chunk)
    if (!ok) this.#needDrain = true
    return ok
  }

  waitForDrain(): Promise<void> {
    if (this.#closed || !this.#needDrain) return Promise.resolve()
    if (this.#drain === undefined) {
      this.#drain = new Promise((resolve) => {
        this.#resolveDrain = resolve
      })
    }
    return this.#drain
  }

  close(): void {
    if (this.#closed) return
    // An empty but valid event stream rather than a bare 200 without a content type.
    if (!this.#opened && !this.#res.destroyed) this.open()
    this.#closed = true
    const res = this.#res
    if (!res.writableEnded && !res.destroyed) res.end()
    this.#finish()
  }

  /** Drops the connection at once (a client that fell a whole queue behind). */
  destroy(): void {
    this.#res.destroy()
    this.#onClose()
  }

  readonly #onClose = (): void => {
    this.#closed = true
    this.#finish()
  }

  readonly #onDrain = (): void => {
    this.#needDrain = false
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
 * from `writeHead` in the middle of a connect.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (field `headers`).
 * @internal
 */
export function validateHeaders(headers: Record<string, string> | undefined): void {
  if (headers === undefined) return
  for (const [name, value] of Object.entries(headers)) {
    try {
      validateHeaderName(name)
      validateHeaderValue(name, value)
    } catch (cause) {
      throw new SseError('SSE_ERR_OPTION_INVALID', `invalid response header ${JSON.stringify(name)}`, {
        field: 'headers',
        cause,
      })
    }
  }
}

/**
 * Creates a {@link Sink} over a `node:http` response, to connect a client to a hub yourself.
 *
 * The head (status 200, the event-stream headers of WIRE.md plus `options.headers`) is written
 * lazily, on the first write or on {@link NodeSink.open}: `hub.connect(sink, ...)` can still throw
 * on invalid input and the caller answer 400. Each chunk is written whole with `res.write`, which
 * sends it to the socket in the same tick. `write` returns `res.write`'s backpressure signal;
 * `waitForDrain` resolves on 'drain' or when the response closes. `signal` aborts when the
 * response closes (the client went away, or the response ended) or on `close()`, which ends the
 * response and is idempotent. Most applications use {@link serveSse} or {@link createSseHandler}.
 *
 * @param req - The request; its socket is tuned for streaming on open.
 * @param res - The response to stream to.
 * @param options - Extra headers.
 * @returns The sink; nothing has been written yet.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header name or value in `options.headers`.
 * @example
 * import { createServer } from 'node:http'
 * import { createHub } from '@ssehub/core'
 * import { createNodeSink } from '@ssehub/server/node'
 *
 * const hub = createHub()
 * createServer((req, res) => {
 *   const sink = createNodeSink(req, res)
 *   try {
 *     hub.connect(sink, { channels: ['news'] })
 *   } catch {
 *     res.writeHead(400).end()
 *     return
 *   }
 *   sink.open()
 * }).listen(8080)
 */
export function createNodeSink(
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeSinkOptions = {},
): NodeSink {
  validateHeaders(options.headers)
  return new NodeResponseSink(req, res, options.headers)
}
