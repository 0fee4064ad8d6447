import { channel as diagnosticsChannel } from 'node:diagnostics_channel'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { type Broker, createHub, type Hub, MemoryBroker } from '@ssehub/core'
import { guardBroker } from './broker-guard.js'
import { parseHost, parseOrigin } from './config.js'
import { createCorsPolicy } from './cors.js'
import {
  CLOSE_GRACE_MS,
  DEFAULT_HOST,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
} from './defaults.js'
import { HubError } from './errors.js'
import { sendError } from './respond.js'
import { createEventsRoute } from './routes/events-route.js'
import { createHealthRoute } from './routes/health-route.js'
import { createPageRoute } from './routes/page-route.js'
import { createPublishRoute } from './routes/publish-route.js'
import {
  type ConnectionControl,
  createSecureHubServer,
  type HubTlsOptions,
  httpConnections,
} from './secure-server.js'
import { createSecurity, type SecurityOptions } from './security.js'

/** Options of {@link createHubServer}. Every value is validated when the server is created. */
export interface HubServerOptions extends SecurityOptions {
  /** The interface to listen on. @defaultValue `'127.0.0.1'` (loopback only) */
  host?: string
  /** The TCP port; 0 picks a free one. @defaultValue 8080 */
  port?: number
  /**
   * The broker behind the hub. The hub closes it when it closes only if it created it.
   * @defaultValue a `MemoryBroker` configured by the `history*` options
   */
  broker?: Broker
  /** Interval of heartbeat comments, or `false` for none. @defaultValue 15000 */
  heartbeatMs?: number | false
  /** The `retry:` hint sent to each new stream, or `false` for none. @defaultValue 2000 */
  retryMs?: number | false
  /** Events kept per channel by the built-in memory broker; 0 keeps none. @defaultValue 1000 */
  historyLimit?: number
  /** Age at which the memory broker drops events, or `false` to keep them. @defaultValue 3600000 (1 h) */
  historyTtlMs?: number | false
  /** Bytes queued for one slow client before it is disconnected. @defaultValue 1 MiB */
  maxQueueBytes?: number
  /** Events queued for one slow client before it is disconnected. @defaultValue 1000 */
  maxQueueEvents?: number
  /**
   * Largest `POST /publish` body in bytes. It also bounds the data of one event (in UTF-16 code
   * units, which a UTF-8 body never has fewer of than bytes).
   * @defaultValue 1 MiB
   */
  maxBodyBytes?: number
  /** Most events in one array publish. @defaultValue 1000 */
  maxBatchEvents?: number
  /** Browser origins allowed by CORS (exact origins, or `*` for any origin without credentials). @defaultValue none */
  corsOrigins?: readonly string[]
  /** Serve the demo page at `GET /`. @defaultValue true */
  demo?: boolean
  /**
   * Told about unexpected errors (answered with 500). They are also published on the
   * `ssehub:error` diagnostics channel.
   * @defaultValue none
   */
  onError?: (error: unknown) => void
}

/** Options of {@link createHubServer} for a hub that serves HTTPS. */
export interface SecureHubServerOptions extends HubServerOptions {
  /**
   * Serve HTTPS with this certificate: HTTP/2, with an HTTP/1.1 fallback, so that a browser opens
   * any number of event streams to the hub over one connection (HTTP/1.1 allows six per origin).
   */
  tls: HubTlsOptions
}

/**
 * A hub server: the hub, its server, and their lifecycle. `S` is a `node:http` server, or with
 * {@link SecureHubServerOptions.tls} a `node:http2` secure server.
 */
export interface HubServer<S extends Server | Http2SecureServer = Server> {
  /** The engine: publish to it directly from the same process if you like. */
  readonly hub: Hub
  /** The HTTP server (not listening until {@link HubServer.listen}). */
  readonly server: S
  /** Starts listening; resolves with the base URL to reach the server, e.g. `http://127.0.0.1:8080/` (`https:` with TLS). */
  listen(): Promise<URL>
  /**
   * Stops gracefully: stops accepting connections, ends every open stream (clients reconnect
   * elsewhere and resume), lets requests in flight finish, and closes the hub. Connections still
   * open after a grace period are destroyed. Idempotent.
   */
  close(): Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

const errors = diagnosticsChannel('ssehub:error')

function optionError(name: string, expected: string, value: unknown): HubError {
  return new HubError('SSEHUB_ERR_OPTION_INVALID', `${name} must be ${expected}, got ${String(value)}`, {
    field: name,
  })
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw optionError(name, 'a positive integer', value)
  return value
}

/** The path of a request target: origin-form (`/events?x`) or absolute-form (`http://h/events`). */
function pathOf(target: string | undefined): string {
  const raw = target ?? '/'
  if (raw.startsWith('/')) {
    const query = raw.indexOf('?')
    return query === -1 ? raw : raw.slice(0, query)
  }
  try {
    return new URL(raw).pathname
  } catch {
    return ''
  }
}

/** The URL to reach a listening address: wildcard addresses are reached through loopback. */
function urlOf(address: AddressInfo, secure: boolean): URL {
  let host = address.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  return new URL(`${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}/`)
}

/**
 * Creates the standalone hub server: a hub with a memory broker (or yours) behind an HTTP API.
 *
 * Routes: `GET /events` (the stream), `POST /publish`, `GET /healthz`, and the demo page at
 * `GET /`. Errors are JSON `{ "error": { "code", "message", "field"? } }`. `docs/hub-api.md`
 * describes every route, field, status and code.
 *
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` naming the option; SseError `SSE_ERR_OPTION_INVALID`
 *   for an invalid engine or history option.
 * @example
 * import { createHubServer } from 'ssehub'
 * const { hub, listen } = createHubServer({ port: 8080 })
 * const url = await listen()
 * await hub.publish('sse', 'hello')
 */
export function createHubServer(options: SecureHubServerOptions): HubServer<Http2SecureServer>
export function createHubServer(options?: HubServerOptions): HubServer<Server>
export function createHubServer(
  options: HubServerOptions & { tls?: HubTlsOptions | undefined },
): HubServer<Server | Http2SecureServer>
export function createHubServer(
  options: HubServerOptions & { tls?: HubTlsOptions | undefined } = {},
): HubServer<Server | Http2SecureServer> {
  const host = parseHost(options.host ?? DEFAULT_HOST, 'host')
  const port = options.port ?? DEFAULT_PORT
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw optionError('port', 'an integer from 0 to 65535', port)
  }
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
  const maxBatchEvents = positiveInteger('maxBatchEvents', options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS)
  const cors = createCorsPolicy(
    (options.corsOrigins ?? []).map((origin) => parseOrigin(origin, 'corsOrigins')),
  )
  const demo = options.demo ?? true
  const security = createSecurity(options)
  if (options.broker !== undefined) {
    for (const name of ['historyLimit', 'historyTtlMs'] as const) {
      if (options[name] !== undefined) {
        throw new HubError(
          'SSEHUB_ERR_OPTION_INVALID',
          `${name} configures the memory broker; configure your broker instead`,
          {
            field: name,
          },
        )
      }
    }
  }
  const broker =
    options.broker ??
    new MemoryBroker({
      ...(options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit }),
      ...(options.historyTtlMs === undefined ? {} : { historyTtlMs: options.historyTtlMs }),
    })
  const hub = createHub({
    broker,
    closeBroker: options.broker === undefined,
    maxDataLength: maxBodyBytes,
    ...security.hubOptions,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    ...(options.maxQueueBytes === undefined ? {} : { maxQueueBytes: options.maxQueueBytes }),
    ...(options.maxQueueEvents === undefined ? {} : { maxQueueEvents: options.maxQueueEvents }),
  })
  const onError = (error: unknown): void => {
    if (errors.hasSubscribers) errors.publish({ error })
    try {
      options.onError?.(error)
    } catch {
      // a failing reporter must not take the server down
    }
  }

  // HTTP/1.1 and HTTP/2 (compatibility API) alike: limits, token, grants, then the stream.
  // While the broker is down a new stream cannot replay: refused with 503 before it starts.
  const events = guardBroker(hub, createEventsRoute({ hub, security, onError }))
  const health = createHealthRoute(hub)
  const publish = createPublishRoute({
    hub,
    maxBodyBytes,
    maxBatchEvents,
    allowsOrigin: (origin) => cors.allows(origin) !== false,
    trustsOrigin: (origin) => cors.allows(origin) === 'exact',
    security,
    onError,
  })
  const routes = new Map<string, Readonly<Record<string, Handler>>>([
    ['/events', { GET: events, HEAD: events }],
    ['/publish', { POST: publish }],
    ['/healthz', { GET: health, HEAD: health }],
  ])
  if (demo) {
    const page = createPageRoute()
    routes.set('/', { GET: page, HEAD: page })
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url)
    const route = routes.get(path)
    const method = req.method ?? 'GET'
    if (route === undefined) {
      cors.apply(req, res)
      sendError(res, 404, 'SSEHUB_ERR_NOT_FOUND', `no route ${JSON.stringify(path)}`)
      return
    }
    const allow = [...Object.keys(route), 'OPTIONS'].join(', ')
    if (method === 'OPTIONS') {
      if (req.headers['access-control-request-method'] !== undefined) cors.preflight(req, res)
      else cors.apply(req, res)
      res.writeHead(204, { allow }).end()
      return
    }
    cors.apply(req, res)
    const handler = Object.hasOwn(route, method) ? route[method] : undefined
    if (handler === undefined) {
      sendError(res, 405, 'SSEHUB_ERR_METHOD_NOT_ALLOWED', `${path} accepts ${allow}`, { headers: { allow } })
      return
    }
    let result: void | Promise<void>
    try {
      result = handler(req, res)
    } catch (error) {
      fail(res, error)
      return
    }
    if (result !== undefined) result.catch((error: unknown) => fail(res, error))
  }

  const fail = (res: ServerResponse, error: unknown): void => {
    onError(error)
    if (res.headersSent) res.destroy()
    else sendError(res, 500, 'SSE_ERR_SERVER_INTERNAL', 'internal error')
  }

  let server: Server | Http2SecureServer
  let connections: ConnectionControl
  if (options.tls === undefined) {
    // Slowloris: headers and whole requests must arrive in time; event streams outlive both.
    const plain = createServer(security.serverOptions, handle)
    server = plain
    connections = httpConnections(plain)
  } else {
    ;({ server, connections } = createSecureHubServer(options.tls, handle, {
      headersTimeout: security.serverOptions.headersTimeout,
    }))
  }
  // `Expect: 100-continue`: refuse a body that is declared too large before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'])
    if (!(pathOf(req.url) === '/publish' && declared > maxBodyBytes)) res.writeContinue()
    handle(req, res)
  })

  let closing: Promise<void> | undefined
  return {
    hub,
    server,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve(urlOf(server.address() as AddressInfo, options.tls !== undefined))
        })
      })
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => {
          if (!server.listening) resolve()
          else server.close(() => resolve())
        })
        // Ending the sessions ends their responses; keep-alive sockets are closed as soon as they
        // fall idle, and whatever is still open after the grace period is destroyed.
        await hub.close()
        connections.closeIdle()
        const idle = setInterval(() => connections.closeIdle(), 25)
        const grace = setTimeout(() => connections.closeAll(), CLOSE_GRACE_MS)
        await closed
        clearInterval(idle)
        clearTimeout(grace)
      })()
      return closing
    },
  }
}
