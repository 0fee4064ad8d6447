import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import type { CloseReason, SinkWatcher } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'
import type { NodeSink } from './node-sink.js'

/**
 * The hot path of HTTP/1.1 event streams (issue 7; the measurements are in docs/decisions.md,
 * "Hot path (issue 7)").
 *
 * 1. Coalescing. `write` only queues a reference to the chunk (the hub's shared bytes); one
 *    `setImmediate` for all sinks with pending data (not one per sink) then writes each sink's
 *    chunks of this event-loop turn as one chunked-encoding chunk, with one `socket.write`: a
 *    burst of events costs one syscall per subscriber per turn instead of one per event.
 * 2. Zero copies per subscriber. Subscribers of a channel receive the same chunks in the same
 *    order, so the framed buffer of the last batch is kept and reused while the next sink's batch
 *    holds the very same chunks: in a broadcast, each event is framed (copied) once, not once per
 *    subscriber.
 * 3. Bypass. At the first flush (never inside the HTTP parser's own callback), the sink takes the
 *    socket over, as Node's own `upgrade` path does: the HTTP parser goes back to its pool and
 *    leaves the server's connection list (so the headers and request timeouts, which only guard
 *    requests still arriving, no longer look at it), the server's socket listeners are removed,
 *    and the response is detached; the request and response objects are then garbage. The sink
 *    frames chunks itself and listens to the socket through shared functions (no closure, no
 *    timer, no `AbortController` per connection). The stream is never handed back to the server:
 *    at its end the socket is closed, as for an upgraded connection. `server.closeAllConnections()`
 *    still closes it: the sink keeps a set of taken-over sockets per server and wraps that method
 *    once per server (Node's own list only holds connections with a parser).
 *
 * When a takeover condition does not hold (a pipelined request behind this one, a response
 * wrapped by middleware, an HTTP/1.0 client, Node internals that changed), the sink stays on the
 * response (`res.write`), still coalescing.
 * @internal
 */

/** What the sink needs of Node's HTTP parser (`socket.parser`). */
interface HttpParser {
  incoming: unknown
}

type FreeParser = (parser: HttpParser, req: IncomingMessage | null, socket: Socket) => void

/** Node's own `freeParser` (what its `upgrade` path calls); undefined if this Node lacks it. */
const freeParser: FreeParser | undefined = (() => {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown }
    return typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined
  } catch {
    return undefined
  }
})()

/** The listeners Node's HTTP server puts on a connection's socket, as its `upgrade` path removes them. */
const SERVER_LISTENERS: ReadonlyArray<readonly [event: string, name: string, required: boolean]> = [
  ['data', 'bound socketOnData', true],
  ['end', 'bound socketOnEnd', true],
  ['close', 'bound socketOnClose', true],
  ['drain', 'bound socketOnDrain', true],
  ['error', 'socketOnError', true],
  ['timeout', 'socketOnTimeout', false],
  ['resume', 'onSocketResume', false],
  ['pause', 'onSocketPause', false],
]

/** Pending bytes past which `write` reports backpressure until the next flush has been taken. */
const PENDING_HIGH_WATER = 64 * 1024
const CRLF = 0x0a0d // little-endian "\r\n" for writeUInt16LE
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1')

const kSink = Symbol('ssehub.socketSink')
type Tagged<T> = T & { [kSink]?: SocketSink | undefined }

/** The framed buffer of the last batch written, reused while the next batch holds the same chunks. */
let lastBatch: Uint8Array[] | undefined
let lastFramed: Buffer | undefined

function sameChunks(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Copies chunks into one buffer, as one chunked-encoding chunk when `chunked`. */
function concat(chunks: readonly Uint8Array[], bytes: number, chunked: boolean): Buffer {
  const head = chunked ? `${bytes.toString(16)}\r\n` : ''
  const out = Buffer.allocUnsafe(head.length + bytes + (chunked ? 2 : 0))
  let at = head.length === 0 ? 0 : out.write(head, 0, 'latin1')
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  if (chunked) out.writeUInt16LE(CRLF, at)
  return out
}

/** The bytes to send for a batch: framed when `chunked`; shared with the previous batch when equal. */
function encodeBatch(chunks: Uint8Array[], bytes: number, chunked: boolean): Uint8Array {
  if (!chunked && chunks.length === 1) return chunks[0] as Uint8Array
  if (chunked && lastBatch !== undefined && sameChunks(chunks, lastBatch)) return lastFramed as Buffer
  const framed = concat(chunks, bytes, chunked)
  if (chunked) {
    lastBatch = chunks
    lastFramed = framed
  }
  return framed
}

/** Sinks with something to flush (pending chunks, or a takeover to do), flushed by one setImmediate. */
let flushQueue: SocketSink[] = []
let flushScheduled = false

function scheduleFlush(sink: SocketSink): void {
  flushQueue.push(sink)
  if (flushScheduled) return
  flushScheduled = true
  setImmediate(flushAll)
}

function flushAll(): void {
  flushScheduled = false
  const sinks = flushQueue
  flushQueue = []
  for (const sink of sinks) SocketSink.flush(sink)
  // Let the cached batch go: it only pays off within one turn.
  lastBatch = undefined
  lastFramed = undefined
}

/**
 * The taken-over streams of each HTTP server, so that `server.closeAllConnections()` still closes
 * them (it only knows the connections whose parser it holds). One set per server, wrapped once.
 */
const streamsOf = new WeakMap<object, Set<Socket>>()

function track(socket: Socket): void {
  const server = (socket as { server?: { closeAllConnections?: unknown } }).server
  if (server === undefined || typeof server.closeAllConnections !== 'function') return
  let streams = streamsOf.get(server)
  if (streams === undefined) {
    const sockets = new Set<Socket>()
    streams = sockets
    streamsOf.set(server, sockets)
    const closeAll = server.closeAllConnections as (this: unknown) => void
    server.closeAllConnections = function (this: unknown): void {
      closeAll.call(this)
      for (const stream of [...sockets]) stream.destroy()
    }
  }
  streams.add(socket)
}

function untrack(socket: Socket): void {
  const server = (socket as { server?: object }).server
  if (server !== undefined) streamsOf.get(server)?.delete(socket)
}

/** A no-op for data a client sends after its request, and for socket errors ('close' follows). */
function ignore(): void {}

/** Flags of a {@link SocketSink}, packed in one number (issue 7: an idle stream is counted in bytes). */
const OPENED = 1
const CLOSED = 2
/** In the flush queue. */
const QUEUED = 4
/** The takeover was tried (done, or found impossible). */
const SETTLED = 8
/** Frame chunks ourselves (the head said `transfer-encoding: chunked`). */
const CHUNKED = 16
/** The socket (or response) asked for a drain. */
const NEED_DRAIN = 32
/** `write` returned false: the writer waits on {@link SocketSink.waitForDrain}. */
const BLOCKED = 64

/** The request side of a sink until the takeover (or for good when it is not possible). */
interface HttpExchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  headers: Record<string, string> | undefined
}

/** A pending {@link SocketSink.waitForDrain}. */
interface DrainWait {
  readonly promise: Promise<void>
  resolve: () => void
}

/**
 * The {@link NodeSink} that {@link serveSse} uses for HTTP/1.x: see the comment at the top of
 * this module. Its state is eight fields (flags packed in one number): it lives as long as the
 * stream.
 * @internal
 */
export class SocketSink implements NodeSink {
  /** Set until the takeover (or for good when it is not possible). */
  #http: HttpExchange | undefined
  /** Set once the socket was taken over. */
  #socket: Socket | undefined
  #flags = 0
  #pending: Uint8Array[] | undefined
  #pendingBytes = 0
  #drain: DrainWait | undefined
  #watcher: SinkWatcher | undefined
  #controller: AbortController | undefined

  constructor(req: IncomingMessage, res: ServerResponse, headers: Record<string, string> | undefined) {
    this.#http = { req, res, headers }
    ;(res as Tagged<ServerResponse>)[kSink] = this
    res.on('close', onResponseClose)
    res.on('drain', onResponseDrain)
    res.on('error', onResponseClose)
    if (res.destroyed) this.#aborted()
  }

  /** Created only when read: the session uses {@link SocketSink.watch}. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if ((this.#flags & CLOSED) !== 0) this.#controller.abort()
    }
    return this.#controller.signal
  }

  get opened(): boolean {
    return (this.#flags & OPENED) !== 0
  }

  /** Whether the socket was taken over from the HTTP server (for tests). */
  get takenOver(): boolean {
    return this.#socket !== undefined
  }

  watch(watcher: SinkWatcher): void {
    if ((this.#flags & CLOSED) !== 0) {
      queueMicrotask(() => watcher.sinkAborted())
      return
    }
    this.#watcher = watcher
  }

  open(): void {
    if ((this.#flags & (OPENED | CLOSED)) !== 0) return
    this.#flags |= OPENED
    const http = this.#http as HttpExchange
    const { req, res } = http
    if (!res.headersSent) {
      const headers = sseHeaders()
      if (http.headers !== undefined) Object.assign(headers, http.headers)
      res.writeHead(200, headers)
      res.flushHeaders()
    }
    http.headers = undefined
    const socket = req.socket as Socket | null
    if (socket !== null) {
      // Events are small and latency-bound, and already coalesced per turn: no Nagle delay.
      socket.setNoDelay(true)
      // A quiet stream is not an idle connection: `server.timeout` must not cut it.
      socket.setTimeout(0)
    }
    // Take the socket over soon even if nothing is written, so an idle stream holds no request.
    this.#queue()
  }

  write(chunk: Uint8Array): boolean {
    if ((this.#flags & CLOSED) !== 0) return true
    if ((this.#flags & OPENED) === 0) this.open()
    if (chunk.byteLength === 0) return (this.#flags & BLOCKED) === 0
    if (this.#pending === undefined) this.#pending = [chunk]
    else this.#pending.push(chunk)
    this.#pendingBytes += chunk.byteLength
    this.#queue()
    if ((this.#flags & NEED_DRAIN) === 0 && this.#pendingBytes >= PENDING_HIGH_WATER) {
      // A big burst (a batch publish, a replay) is efficient enough per write already: send it
      // now, so that backpressure reflects the socket rather than this turn's pending bytes.
      this.#writePending()
    }
    if ((this.#flags & NEED_DRAIN) !== 0) this.#flags |= BLOCKED
    return (this.#flags & BLOCKED) === 0
  }

  waitForDrain(): Promise<void> {
    if ((this.#flags & (CLOSED | BLOCKED)) !== BLOCKED) return Promise.resolve()
    if (this.#drain === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((done) => {
        resolve = done
      })
      this.#drain = { promise, resolve }
    }
    return this.#drain.promise
  }

  /**
   * Ends the stream, or with `'overflow'` (a client a whole queue behind, which is not reading)
   * drops the connection at once: ending it politely would keep its socket, and the output stuck
   * in it, for as long as the client holds it open (no timeout applies to a stream). The client
   * resumes from its `Last-Event-ID`.
   */
  close(reason?: CloseReason): void {
    if ((this.#flags & CLOSED) !== 0) return
    if (reason === 'overflow') {
      this.destroy()
      return
    }
    const res = this.#http?.res
    // An empty but valid event stream rather than a bare 200 without a content type.
    if ((this.#flags & OPENED) === 0 && res !== undefined && !res.destroyed) this.open()
    const socket = this.#socket
    if (socket !== undefined) {
      if (!socket.destroyed) {
        const pending = this.#takePending()
        if (pending !== undefined) socket.write(pending)
        if ((this.#flags & CHUNKED) !== 0) socket.end(LAST_CHUNK)
        else socket.end()
        // The stream is never handed back to the HTTP server: close the connection once the end
        // is written; if the client is not reading, at once (it resumes with Last-Event-ID).
        if (socket.writableLength > 0) socket.destroy()
        else socket.once('finish', destroySocket)
      }
    } else if (res !== undefined && !res.destroyed) {
      const pending = this.#takePending()
      if (pending !== undefined) res.write(pending)
      if (!res.writableEnded) {
        // As when taken over: the connection of a stream is not reused (a stream ended on
        // purpose, by a drain say, reconnects over a new connection, perhaps to another node).
        const socket = res.socket
        res.end()
        if (socket !== null) res.once('finish', () => socket.end())
      }
    }
    this.#aborted()
  }

  /** Drops the connection at once (a client that fell a whole queue behind). */
  destroy(): void {
    if (this.#socket !== undefined) this.#socket.destroy()
    else this.#http?.res.destroy()
    this.#aborted()
  }

  /** @internal Flushes one sink (called by the shared flush). */
  static flush(sink: SocketSink): void {
    sink.#flags &= ~QUEUED
    if ((sink.#flags & CLOSED) !== 0) return
    if ((sink.#flags & SETTLED) === 0) {
      sink.#flags |= SETTLED
      sink.#takeOver()
    }
    sink.#writePending()
    if ((sink.#flags & NEED_DRAIN) === 0) sink.#unblock()
  }

  /** Puts the sink in the shared flush queue, once. */
  #queue(): void {
    if ((this.#flags & QUEUED) !== 0) return
    this.#flags |= QUEUED
    scheduleFlush(this)
  }

  /** Writes the pending chunks with one write, to the socket once taken over, else the response. */
  #writePending(): void {
    const pending = this.#takePending()
    if (pending === undefined) return
    let ok: boolean
    if (this.#socket !== undefined) ok = this.#socket.write(pending)
    else if (this.#http !== undefined) ok = this.#http.res.write(pending)
    else return
    if (!ok) this.#flags |= NEED_DRAIN
  }

  /** The pending chunks as the bytes to send, or undefined when none; clears them. */
  #takePending(): Uint8Array | undefined {
    const pending = this.#pending
    if (pending === undefined) return undefined
    const bytes = this.#pendingBytes
    this.#pending = undefined
    this.#pendingBytes = 0
    if (this.#socket === undefined) {
      // The response frames it: copy only when there are several.
      return pending.length === 1 ? pending[0] : concat(pending, bytes, false)
    }
    return encodeBatch(pending, bytes, (this.#flags & CHUNKED) !== 0)
  }

  /** Takes the socket over from the HTTP server when every condition holds (see the module comment). */
  #takeOver(): void {
    const http = this.#http
    if (freeParser === undefined || http === undefined) return
    const { req, res } = http
    const socket = res.socket as Tagged<Socket> | null
    if (socket === null || socket.destroyed || req.socket !== socket) return
    const internal = res as unknown as { chunkedEncoding?: boolean; outputSize?: number; _last?: boolean }
    const state = socket as unknown as { parser?: HttpParser | null; _httpMessage?: unknown }
    const parser = state.parser
    const chunked = internal.chunkedEncoding === true
    if (
      req.httpVersionMajor !== 1 ||
      req.httpVersionMinor !== 1 ||
      !req.complete ||
      parser == null ||
      parser.incoming !== req ||
      state._httpMessage !== res ||
      internal.outputSize !== 0 ||
      !chunked ||
      res.write !== (Object.getPrototypeOf(res) as ServerResponse).write
    ) {
      return
    }
    const remove: Array<[string, (...args: unknown[]) => void]> = []
    for (const [event, name, required] of SERVER_LISTENERS) {
      const listener = socket.listeners(event).find((fn) => fn.name === name)
      if (listener !== undefined) remove.push([event, listener as (...args: unknown[]) => void])
      else if (required) return
    }
    for (const [event, listener] of remove) socket.removeListener(event, listener)
    freeParser(parser, req, socket)
    res.detachSocket(socket)
    res.off('close', onResponseClose)
    res.off('drain', onResponseDrain)
    res.off('error', onResponseClose)
    ;(res as Tagged<ServerResponse>)[kSink] = undefined
    this.#http = undefined
    if (chunked) this.#flags |= CHUNKED
    this.#socket = socket
    socket[kSink] = this
    track(socket)
    // The peer address Node cached when the request was read (an object per connection): the
    // socket reads it again from its handle if asked while open.
    const peer = socket as unknown as { _peername?: unknown }
    if (typeof peer._peername === 'object') peer._peername = undefined
    // net.Socket's own 'end' listener only guards writes after a FIN when the socket does not
    // allow half-open connections; this sink destroys the socket at 'end' anyway, so it goes,
    // and 'end' keeps one listener instead of a list (issue 7: 64 bytes per idle stream).
    const netEnd = socket.listeners('end').find((fn) => fn.name === 'onReadableStreamEnd')
    if (netEnd !== undefined) socket.removeListener('end', netEnd as (...args: unknown[]) => void)
    socket.on('close', onSocketClose)
    socket.on('end', onSocketEnd)
    socket.on('drain', onSocketDrain)
    socket.on('error', ignore)
    // Keep reading, to see the client go away; what it sends after its request is dropped.
    socket.on('data', ignore)
    socket.resume()
    if (socket.writableNeedDrain) this.#flags |= NEED_DRAIN
  }

  #unblock(): void {
    this.#flags &= ~NEED_DRAIN
    if ((this.#flags & BLOCKED) === 0) return
    this.#flags &= ~BLOCKED
    const drain = this.#drain
    this.#drain = undefined
    drain?.resolve()
  }

  /** The connection is gone or the stream ended: tell the session, once. */
  #aborted(): void {
    const first = (this.#flags & CLOSED) === 0
    this.#flags |= CLOSED
    this.#pending = undefined
    this.#pendingBytes = 0
    this.#unblock()
    if (!first) return
    this.#controller?.abort()
    const watcher = this.#watcher
    this.#watcher = undefined
    watcher?.sinkAborted()
  }

  /** @internal For the shared listeners below: the peer went away, or the stream ended. */
  static abort(sink: SocketSink): void {
    sink.#aborted()
  }

  /** @internal For the shared listeners below: the socket (or response) drained. */
  static unblock(sink: SocketSink): void {
    sink.#unblock()
  }
}

// Listeners shared by every sink (no closure per connection): `this` is the emitter, tagged
// with its sink.

function onResponseClose(this: Tagged<ServerResponse>): void {
  const sink = this[kSink]
  if (sink !== undefined) SocketSink.abort(sink)
}

function onResponseDrain(this: Tagged<ServerResponse>): void {
  const sink = this[kSink]
  if (sink !== undefined) SocketSink.unblock(sink)
}

function onSocketClose(this: Tagged<Socket>): void {
  const sink = this[kSink]
  this[kSink] = undefined
  untrack(this)
  if (sink !== undefined) SocketSink.abort(sink)
}

function onSocketEnd(this: Socket): void {
  // The client half-closed: it will read no more of the stream (Node's server ends it too).
  this.destroy()
}

function onSocketDrain(this: Tagged<Socket>): void {
  const sink = this[kSink]
  if (sink !== undefined) SocketSink.unblock(sink)
}

function destroySocket(this: Socket): void {
  this.destroy()
}
