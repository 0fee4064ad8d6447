import { once } from 'node:events'
import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http'
import { connect, type Socket } from 'node:net'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { withTimeout } from '@ssehub/testkit'

/** A real `node:http` server on 127.0.0.1, port 0. */
export interface TestServer {
  readonly server: Server
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** Drops every connection and closes the server. */
  close(): Promise<void>
}

export async function startServer(
  handler: RequestListener,
  options: ServerOptions = {},
): Promise<TestServer> {
  const server = createServer(options, handler)
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return {
    server,
    port: address.port,
    origin: `http://127.0.0.1:${address.port}`,
    async close() {
      server.closeAllConnections()
      await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 2000, 'server close')
    },
  }
}

/**
 * An HTTP/1.1 client on a raw TCP socket: it sees the exact bytes of the head, decodes the chunked
 * body itself and parses it as an event stream, and it can stop reading (`pause`), which a
 * `fetch` body cannot be made to do reliably.
 */
export interface RawSse {
  readonly socket: Socket
  /** The status line and headers, once received (without the blank line). */
  readonly head: string
  /** Header names (lowercase) and values, once the head arrived. */
  readonly headers: ReadonlyMap<string, string>
  /** Every byte of the body received so far (dechunked), decoded. */
  readonly body: string
  readonly events: ParsedEvent[]
  readonly comments: string[]
  readonly retries: number[]
  /** Bytes received on the socket, head included. */
  readonly received: number
  /** True once the last (zero-length) chunk arrived: the server ended the response. */
  readonly bodyEnded: boolean
  /** True once the socket closed. */
  readonly closed: boolean
  /** Resolves when `check()` holds, re-checked on every byte received, failing after `ms`. */
  until(check: () => boolean, ms: number, label: string): Promise<void>
  /** Stops reading from the socket (the kernel buffers fill, then the server sees backpressure). */
  pause(): void
  resume(): void
  close(): void
}

export interface RawSseOptions {
  headers?: Record<string, string>
  /** Do not read anything, not even the head, until `resume()`. */
  paused?: boolean
}

export async function rawSse(port: number, path: string, options: RawSseOptions = {}): Promise<RawSse> {
  const socket = connect(port, '127.0.0.1')
  if (options.paused === true) socket.pause()
  await withTimeout(once(socket, 'connect'), 2000, 'connect')
  const headerLines = Object.entries({
    host: `127.0.0.1:${port}`,
    accept: 'text/event-stream',
    ...options.headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  socket.write(`GET ${path} HTTP/1.1\r\n${headerLines}\r\n`)

  const events: ParsedEvent[] = []
  const comments: string[] = []
  const retries: number[] = []
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (ms) => retries.push(ms),
  })
  const decoder = new TextDecoder()
  const headers = new Map<string, string>()
  const waiters = new Set<() => void>()
  let buffer: Buffer = Buffer.alloc(0)
  let head = ''
  let headDone = false
  let chunked = false
  let body = ''
  let received = 0
  let bodyEnded = false
  let closed = false

  const feedBody = (bytes: Buffer): void => {
    const text = decoder.decode(bytes, { stream: true })
    body += text
    parser.feed(text)
  }
  const consume = (): void => {
    if (!headDone) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) return
      head = buffer.subarray(0, end).toString('latin1')
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':')
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
      }
      chunked = headers.get('transfer-encoding') === 'chunked'
      headDone = true
      buffer = buffer.subarray(end + 4)
    }
    if (!chunked) {
      if (buffer.length > 0) feedBody(buffer)
      buffer = Buffer.alloc(0)
      return
    }
    while (!bodyEnded) {
      const lineEnd = buffer.indexOf('\r\n')
      if (lineEnd === -1) return
      const size = Number.parseInt(buffer.subarray(0, lineEnd).toString('latin1'), 16)
      if (size === 0) {
        bodyEnded = true
        return
      }
      if (buffer.length < lineEnd + 2 + size + 2) return
      feedBody(buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
      buffer = buffer.subarray(lineEnd + 2 + size + 2)
    }
  }
  const notify = (): void => {
    for (const waiter of waiters) waiter()
  }
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    consume()
    notify()
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    closed = true
    notify()
  })

  return {
    socket,
    get head() {
      return head
    },
    headers,
    get body() {
      return body
    },
    events,
    comments,
    retries,
    get received() {
      return received
    },
    get bodyEnded() {
      return bodyEnded
    },
    get closed() {
      return closed
    },
    until(check, ms, label) {
      let waiter = (): void => {}
      const reached = new Promise<void>((resolve) => {
        waiter = (): void => {
          if (check()) resolve()
        }
      })
      waiters.add(waiter)
      waiter()
      return withTimeout(reached, ms, label).finally(() => waiters.delete(waiter))
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => socket.destroy(),
  }
}

/** Resolves on the next turn of the event loop, after I/O: lets the sockets move. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
