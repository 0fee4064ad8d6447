import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from 'node:http2'
import { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { HubError } from './errors.js'

/**
 * The certificate of a hub that serves HTTPS: PEM text or buffers, as `tls.createSecureContext`
 * takes them.
 * @example
 * const tls: HubTlsOptions = { cert: readFileSync('cert.pem'), key: readFileSync('key.pem') }
 */
export interface HubTlsOptions {
  /** The certificate chain, PEM. */
  cert: string | Buffer
  /** The private key, PEM. */
  key: string | Buffer
}

type Handle = (req: IncomingMessage, res: ServerResponse) => void

/** Without a configured headers timeout: how long a TLS connection may sit with no request. */
const DEFAULT_TLS_IDLE_MS = 60_000

/** Concurrent streams (requests, event streams) one HTTP/2 connection may hold, as nginx's 128 or Go's 250. */
const HTTP2_MAX_CONCURRENT_STREAMS = 128

/** Headers HTTP/2 forbids; Node drops them from a compatibility response with a process warning. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
])

/**
 * Lets the hub's routes, written for `node:http`, answer HTTP/2 requests of the compatibility API:
 * `host` is taken from `:authority` (browsers send no `host` over HTTP/2; the publish route's
 * same-origin check reads it), and connection-specific headers (`connection: close` after an
 * error) are left out of the head instead of triggering a warning. Event streams never get here:
 * `/events` is served by `@ssehub/server/http2`, which writes to the HTTP/2 stream itself.
 */
function adaptHttp2(req: IncomingMessage, res: Http2ServerResponse): void {
  const authority = req.headers[':authority']
  if (req.headers.host === undefined && typeof authority === 'string') req.headers.host = authority
  const writeHead = res.writeHead
  res.writeHead = function (this: Http2ServerResponse, status: number, ...rest: unknown[]) {
    const last = rest.at(-1)
    if (typeof last === 'object' && last !== null && !Array.isArray(last)) {
      for (const name of Object.keys(last)) {
        if (CONNECTION_SPECIFIC.has(name.toLowerCase())) delete (last as Record<string, unknown>)[name]
      }
    }
    return (writeHead as (...args: unknown[]) => Http2ServerResponse).call(this, status, ...rest)
  } as Http2ServerResponse['writeHead']
}

/** What `close()` needs of the server's connections, whatever the protocol. */
export interface ConnectionControl {
  /** Closes connections with nothing in flight (HTTP/2: a GOAWAY, then close when streams end). */
  closeIdle(): void
  /** Destroys every connection. */
  closeAll(): void
}

/** The connection control of a plain `node:http` server. */
export function httpConnections(server: Server): ConnectionControl {
  return {
    closeIdle: () => server.closeIdleConnections(),
    closeAll: () => server.closeAllConnections(),
  }
}

/**
 * Creates the hub's HTTPS server: HTTP/2 with an HTTP/1.1 fallback (`allowHTTP1`), so browsers
 * multiplex any number of event streams over one connection, and older clients still connect.
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` (field `tls`) when the certificate or key cannot be used.
 */
export function createSecureHubServer(
  tls: HubTlsOptions,
  handle: Handle,
  limits: { headersTimeout?: number | undefined } = {},
): { server: Http2SecureServer; connections: ConnectionControl } {
  const idleTimeoutMs = limits.headersTimeout ?? DEFAULT_TLS_IDLE_MS
  let server: Http2SecureServer
  try {
    server = createSecureServer({
      cert: tls.cert,
      key: tls.key,
      // Slowloris, step 1: a TLS handshake must finish within the headers timeout.
      handshakeTimeout: idleTimeoutMs,
      allowHTTP1: true,
      // Events are small and latency-bound: no Nagle delay on the shared connection.
      noDelay: true,
      // Node's default is unbounded; one connection may hold this many event streams at once.
      settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS },
    })
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    throw new HubError('SSEHUB_ERR_OPTION_INVALID', `the TLS certificate or key cannot be used: ${reason}`, {
      field: 'tls',
      cause,
    })
  }
  /** HTTP/1.1 sockets and how many of their requests are in flight. */
  const http1 = new Map<TLSSocket, number>()
  const sessions = new Set<Http2Session>()
  /** Open streams per HTTP/2 session. */
  const streams = new Map<Http2Session, number>()
  /**
   * Slowloris, step 2. `http2.createSecureServer` does not run Node's HTTP/1.1 `headersTimeout`
   * checks on its fallback connections, so the hub does the equivalent itself: a connection with
   * no request in flight (an HTTP/1.1 socket whose headers have not all arrived, an HTTP/2
   * session with no open stream) for longer than the headers timeout is closed. One shared
   * sweep, not a timer per connection. Open event streams are requests in flight: never cut.
   */
  const idleSince = new Map<TLSSocket | Http2Session, number>()
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleTimeoutMs
      for (const [connection, since] of idleSince) {
        if (since > cutoff) continue
        idleSince.delete(connection)
        if (connection instanceof Socket) connection.destroy()
        else if (!connection.closed) connection.close()
      }
    },
    Math.max(50, Math.floor(idleTimeoutMs / 4)),
  )
  sweep.unref()
  server.once('close', () => clearInterval(sweep))
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return
    http1.set(socket, 0)
    idleSince.set(socket, Date.now())
    socket.once('close', () => {
      http1.delete(socket)
      idleSince.delete(socket)
    })
  })
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    streams.set(session, 0)
    idleSince.set(session, Date.now())
    session.once('close', () => {
      sessions.delete(session)
      streams.delete(session)
      idleSince.delete(session)
    })
  })
  server.on('stream', (stream: ServerHttp2Stream) => {
    const session = stream.session
    if (session === undefined) return
    streams.set(session, (streams.get(session) ?? 0) + 1)
    idleSince.delete(session)
    stream.once('close', () => {
      const open = (streams.get(session) ?? 1) - 1
      streams.set(session, open)
      if (open === 0 && !session.closed) idleSince.set(session, Date.now())
    })
  })
  const prepare = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.httpVersionMajor >= 2) {
      adaptHttp2(req, res as unknown as Http2ServerResponse)
      return
    }
    const socket = req.socket as TLSSocket
    http1.set(socket, (http1.get(socket) ?? 0) + 1)
    idleSince.delete(socket)
    res.once('close', () => {
      if (!http1.has(socket)) return
      const inFlight = (http1.get(socket) ?? 1) - 1
      http1.set(socket, inFlight)
      if (inFlight === 0) idleSince.set(socket, Date.now())
    })
  }
  // First in line for both events: the hub's own `checkContinue` listener then sees adapted objects too.
  server.prependListener('request', prepare)
  server.prependListener('checkContinue', prepare)
  server.on('request', handle)
  return {
    server,
    connections: {
      closeIdle() {
        for (const session of sessions) if (!session.closed) session.close()
        for (const [socket, inFlight] of http1) if (inFlight === 0) socket.destroy()
      },
      closeAll() {
        for (const session of sessions) session.destroy()
        for (const socket of http1.keys()) socket.destroy()
      },
    },
  }
}
