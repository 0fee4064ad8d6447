import { channel as diagnosticsChannel } from 'node:diagnostics_channel'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import {
  type Broker,
  createHub,
  DEFAULT_RETRY_MS,
  type Hub,
  type HubObserver,
  MemoryBroker,
} from '@ssehub/core'
import { type AdminOptions, createAdminSetup } from './admin/admin-setup.js'
import { guardBroker } from './broker-guard.js'
import { parseHost, parseOrigin } from './config.js'
import { createCorsPolicy } from './cors.js'
import {
  CLOSE_GRACE_MS,
  DEFAULT_HOST,
  DEFAULT_MAX_BATCH_EVENTS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  defaultListenBacklog,
} from './defaults.js'
import { Drain, type DrainOptions } from './drain.js'
import { HubError } from './errors.js'
import { createLogObserver } from './observability/log-observer.js'
import { type HubLogger, serializeError } from './observability/logger.js'
import { instrumentPublish } from './observability/metrics.js'
import { createMetricsSetup, type MetricsOptions } from './observability/metrics-route.js'
import { createRequestObserver } from './observability/request-observer.js'
import { combineObservers } from './observers.js'
import { sendError } from './respond.js'
import { createEventsRoute } from './routes/events-route.js'
import { createHealthRoute, createReadinessRoute } from './routes/health-route.js'
import { createPageRoute } from './routes/page-route.js'
import { createPublishRoute } from './routes/publish-route.js'
import {
  type ConnectionControl,
  createSecureHubServer,
  type HubTlsOptions,
  httpConnections,
} from './secure-server.js'
import { createSecurity, type SecurityOptions } from './security.js'
import { StreamLifetime } from './stream-lifetime.js'

/** Options of {@link createHubServer}. Every value is validated when the server is created. */
export interface HubServerOptions extends SecurityOptions, AdminOptions {
  /** The interface to listen on. @defaultValue `'127.0.0.1'` (loopback only) */
  host?: string
  /** The TCP port; 0 picks a free one. @defaultValue 8080 */
  port?: number
  /**
   * Connections the kernel may queue before the server accepts them. A reconnect storm (a node
   * went away and thousands of its clients come back at once) overflows a short queue, and each
   * connection whose handshake is dropped waits out a one-second SYN retransmission.
   * @defaultValue the kernel's maximum (`/proc/sys/net/core/somaxconn` on Linux, as Go servers
   *   do), else 511 (Node's own default)
   */
  listenBacklog?: number
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
  /** Your own hooks into the engine, called besides the hub server's own (metrics, logs, admin). @defaultValue none */
  observer?: HubObserver
  /**
   * Serve Prometheus metrics at `GET /metrics` (a registry of this server's own), optionally behind
   * a bearer token; `false` for none.
   * @defaultValue true (no token)
   */
  metrics?: boolean | MetricsOptions
  /**
   * Where the server logs (a pino logger, or any logger with pino's methods): refusals at `warn`,
   * unexpected errors at `error`, each stream's start and end at `debug`. Tokens are redacted before
   * anything reaches it.
   * @defaultValue none (silent)
   */
  logger?: HubLogger
  /** The window over which {@link HubServer.drain} closes the open streams, in waves; 0: all at once. @defaultValue 10000 */
  drainMs?: number
  /**
   * The longest an event stream stays open, or `false` for no limit. A stream past it ends with a
   * jittered `retry:` hint, and its client reconnects (through the load balancer, perhaps to
   * another node) and resumes: long-lived connections rebalance after a deploy.
   * @defaultValue false
   */
  maxStreamMs?: number | false
  /**
   * The random spread of {@link HubServerOptions.maxStreamMs}: each stream ends after
   * `maxStreamMs ± maxStreamJitterMs`; below `maxStreamMs`.
   * @defaultValue a tenth of `maxStreamMs`
   */
  maxStreamJitterMs?: number | undefined
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
  /** True once {@link HubServer.drain} started: `/readyz` answers 503 and new streams are refused. */
  readonly draining: boolean
  /**
   * Drains, then closes: readiness flips first (`/readyz` 503, new streams refused with 503
   * `SSEHUB_ERR_DRAINING`), keep-alive connections close as they fall idle, the open streams are
   * closed in waves over `windowMs` in random order, each with a jittered final `retry:` hint (their
   * clients reconnect elsewhere and resume from `Last-Event-ID`), then {@link HubServer.close}.
   * Publishing is accepted until the close. Idempotent: later calls return the same promise.
   * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for an invalid window or wave interval.
   */
  drain(options?: DrainOptions): Promise<void>
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
 * Routes: `GET /events` (the stream), `POST /publish`, `GET /healthz` (liveness), `GET /readyz`
 * (readiness), `GET /metrics` (Prometheus), and the demo page at
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
  const backlog = positiveInteger('listenBacklog', options.listenBacklog ?? defaultListenBacklog())
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
  const maxBatchEvents = positiveInteger('maxBatchEvents', options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS)
  const cors = createCorsPolicy(
    (options.corsOrigins ?? []).map((origin) => parseOrigin(origin, 'corsOrigins')),
  )
  const demo = options.demo ?? true
  const security = createSecurity(options)
  const admin = createAdminSetup(options, security, host, security.selectorLimits.maxLength)
  const metricsSetup = createMetricsSetup(options.metrics)
  const logger = options.logger
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
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS
  const drain = new Drain({ retryMs, windowMs: options.drainMs, closeIdle: () => connections.closeIdle() })
  const lifetime =
    options.maxStreamMs === undefined || options.maxStreamMs === false
      ? undefined
      : new StreamLifetime({ maxStreamMs: options.maxStreamMs, jitterMs: options.maxStreamJitterMs, retryMs })
  const hub = createHub({
    broker,
    closeBroker: options.broker === undefined,
    maxDataLength: maxBodyBytes,
    // One observer per concern; add yours to this list.
    observer: combineObservers(
      // First: releases each stream's connection-limit slot (its `Session.info`) when it closes.
      security.connections.observer,
      options.observer,
      lifetime?.observer,
      metricsSetup?.metrics,
      logger === undefined ? undefined : createLogObserver(logger),
      admin.observer,
    ),
    ...security.hubOptions,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    ...(options.maxQueueBytes === undefined ? {} : { maxQueueBytes: options.maxQueueBytes }),
    ...(options.maxQueueEvents === undefined ? {} : { maxQueueEvents: options.maxQueueEvents }),
  })
  if (metricsSetup !== undefined) {
    metricsSetup.metrics.attach(hub)
    instrumentPublish(hub, metricsSetup.metrics)
  }
  const observeRequest = createRequestObserver({
    metrics: metricsSetup?.metrics,
    logger,
    addressOf: security.clientAddressOf,
  })
  const onError = (error: unknown): void => {
    if (errors.hasSubscribers) errors.publish({ error })
    logger?.error({ err: serializeError(error) }, 'internal error')
    admin.recordError(error)
    try {
      options.onError?.(error)
    } catch {
      // a failing reporter must not take the server down
    }
  }

  // HTTP/1.1 and HTTP/2 (compatibility API) alike: limits, token, grants, then the stream.
  // While the broker is down a new stream cannot replay: refused with 503 before it starts.
  // While draining, new streams are refused before anything else (the load balancer retries elsewhere).
  const events = drain.guard(guardBroker(hub, createEventsRoute({ hub, security, onError })))
  const health = createHealthRoute(hub, () => drain.draining)
  const readiness = createReadinessRoute(hub, () => drain.draining)
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
    ['/readyz', { GET: readiness, HEAD: readiness }],
  ])
  const adminRoutes = admin.attach(hub, {
    maxBodyBytes,
    maxBatchEvents,
    allowsOrigin: (origin) => cors.allows(origin) !== false,
    trustsOrigin: (origin) => cors.allows(origin) === 'exact',
    onError,
  })
  for (const [path, route] of adminRoutes) routes.set(path, route)
  if (metricsSetup !== undefined) {
    routes.set('/metrics', { GET: metricsSetup.route, HEAD: metricsSetup.route })
  }
  if (demo) {
    const page = createPageRoute()
    routes.set('/', { GET: page, HEAD: page })
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    drain.closesConnection(req, res)
    const path = pathOf(req.url)
    const route = routes.get(path) ?? admin.routeOf(path)
    admin.watch(req, res, path)
    // Labelled by route, never by raw path: `/channels/<name>` is one route.
    observeRequest?.(req, res, route === undefined ? undefined : routes.has(path) ? path : '/channels/:name')
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
  let drained: Promise<void> | undefined
  const hubServer: HubServer<Server | Http2SecureServer> = {
    hub,
    server,
    get draining() {
      return drain.draining
    },
    drain(drainOptions) {
      drained ??= drain.run(hub, drainOptions).then(() => hubServer.close())
      return drained
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen({ port, host, backlog }, () => {
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
        lifetime?.stop()
        admin.close()
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
  return hubServer
}
