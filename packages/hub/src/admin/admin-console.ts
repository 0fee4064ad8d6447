import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Hub, isSseError, type Session, type SessionInfo } from '@ssehub/core'
import { encodeControl, encodeEvent, sseHeaders } from '@ssehub/core/wire'
import { Authenticator } from '../auth/authenticator.js'
import {
  ADMIN_ERROR_LOG_SIZE,
  ADMIN_HISTORY_SIZE,
  ADMIN_MAX_STREAMS,
  DEFAULT_AUTH_COOKIE,
} from '../defaults.js'
import { HubError, isHubError } from '../errors.js'
import { refusalHeaders } from '../refusal.js'
import { sendError, sendErrorAndClose, sentErrorOf } from '../respond.js'
import { serveEventStream } from '../routes/serve-stream.js'
import { statusOf } from '../routes/status.js'
import type { Security } from '../security.js'
import { ADMIN_PAGE_HEADERS, ADMIN_PAGE_HTML } from './admin-page.js'
import { AdminStats } from './admin-stats.js'
import { type AdminToken, adminRefusal, adminRefusalHeaders } from './admin-token.js'
import { type ErrorEntry, ErrorLog } from './error-log.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** Settings of {@link AdminConsole}. */
export interface AdminConsoleOptions {
  readonly token: AdminToken
  readonly security: Security
  readonly onError: (error: unknown) => void
  /** Whether presence events are on (shown on the page). */
  readonly presenceEvents: boolean
}

/** Channels and patterns the statistics stream lists each second (the most subscribed). */
const TOP_SELECTORS = 30
const PAGE = Buffer.from(ADMIN_PAGE_HTML)
/** Longest route recorded in the error log (a scanner's paths can be long). */
const MAX_ROUTE_LENGTH = 200

interface StatsStream {
  readonly res: ServerResponse
  /** The peer is behind: skip samples until it drains (it gets the next one). */
  waiting: boolean
}

/**
 * The admin page and its data: counters (a hub observer), the recent errors, and the routes
 * `GET /admin` (the page), `GET /admin/stream` (statistics, one SSE event per second),
 * `GET /admin/events` (a live tail of any channel or pattern) and `POST /admin/publish`. Every
 * route but the page needs the admin token as `Authorization: Bearer`; the page itself holds no
 * data and asks for the token.
 */
export class AdminConsole {
  /** Add to the hub's observers. */
  readonly stats = new AdminStats(ADMIN_HISTORY_SIZE)
  readonly errors = new ErrorLog(ADMIN_ERROR_LOG_SIZE)
  readonly #token: AdminToken
  readonly #security: Security
  readonly #onError: (error: unknown) => void
  readonly #presenceEvents: boolean
  /** The infos of the admin page's tails: the same object becomes `Session.info`. */
  readonly #tailInfos = new WeakSet<SessionInfo>()
  readonly #streams = new Set<StatsStream>()
  #tails = 0
  #hub: Hub | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #lastErrorsTotal = 0
  readonly #startedAt = Date.now()

  constructor(options: AdminConsoleOptions) {
    this.#token = options.token
    this.#security = options.security
    this.#onError = options.onError
    this.#presenceEvents = options.presenceEvents
  }

  /** Starts sampling `hub` once per second (the console exists before the hub it observes). */
  attach(hub: Hub): void {
    this.#hub = hub
    this.#timer = setInterval(() => this.#tick(), 1000)
    this.#timer.unref()
  }

  /** True for a session opened by the admin page's live tail. */
  isTail(session: Session): boolean {
    return this.#tailInfos.has(session.info)
  }

  /** True for the info of a session opened by the admin page's live tail. */
  isTailInfo(info: SessionInfo): boolean {
    return this.#tailInfos.has(info)
  }

  /** Records an unexpected error (the server's `onError`). */
  recordError(error: unknown): void {
    const code =
      typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined
    const name = error instanceof Error ? error.name : typeof error
    const message = error instanceof Error ? error.message : String(error)
    this.errors.add({ time: Date.now(), kind: 'error', code: code ?? name, message })
  }

  /** Records the answer to `req` in the error log if it is an error (status 400 and above). */
  watch(req: IncomingMessage, res: ServerResponse, path: string): void {
    res.once('finish', () => {
      if (res.statusCode < 400) return
      const sent = sentErrorOf(res)
      const route = `${req.method ?? 'GET'} ${path}`
      const entry: ErrorEntry = {
        time: Date.now(),
        kind: 'refusal',
        code: sent?.code ?? `HTTP_${res.statusCode}`,
        status: res.statusCode,
        route: route.length > MAX_ROUTE_LENGTH ? `${route.slice(0, MAX_ROUTE_LENGTH)}…` : route,
        message: sent?.message ?? '',
      }
      this.errors.add(entry)
    })
  }

  /** Ends the statistics streams and stops sampling. The tails are hub sessions: the hub ends them. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    for (const stream of this.#streams) stream.res.end()
    this.#streams.clear()
  }

  /** The routes, by path and method. */
  routes(publish: Handler): Map<string, Readonly<Record<string, Handler>>> {
    const page: Handler = (req, res) => {
      res.writeHead(200, { ...ADMIN_PAGE_HEADERS, 'content-length': String(PAGE.byteLength) })
      if (req.method === 'HEAD') res.end()
      else res.end(PAGE)
    }
    const adminPublish: Handler = (req, res) => {
      const check = this.#token.check(req)
      if (check !== 'valid') {
        const error = adminRefusal(check, 'publishing from the admin page')
        sendErrorAndClose(req, res, statusOf(error), error.code, error.message, {
          headers: adminRefusalHeaders(error),
        })
        return
      }
      return publish(req, res)
    }
    return new Map<string, Readonly<Record<string, Handler>>>([
      ['/admin', { GET: page, HEAD: page }],
      ['/admin/stream', { GET: (req, res) => this.#openStats(req, res) }],
      ['/admin/events', { GET: (req, res) => this.#openTail(req, res) }],
      ['/admin/publish', { POST: adminPublish }],
    ])
  }

  /** @throws HubError when the request does not carry the admin token or too many admin streams are open. */
  #admitStream(req: IncomingMessage): void {
    const check = this.#token.check(req)
    if (check !== 'valid') throw adminRefusal(check, 'this admin stream')
    if (this.#streams.size + this.#tails >= ADMIN_MAX_STREAMS) {
      throw new HubError(
        'SSEHUB_ERR_TOO_MANY_STREAMS',
        `at most ${ADMIN_MAX_STREAMS} admin streams are open at once`,
      )
    }
  }

  #refuse(res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    if (isHubError(error) || isSseError(error)) {
      sendError(res, statusOf(error), error.code, error.message, {
        field: error.field,
        headers: { ...refusalHeaders(error), ...adminRefusalHeaders(error) },
      })
      return
    }
    this.#onError(error)
    sendError(res, 500, 'SSE_ERR_SERVER_INTERNAL', 'internal error')
  }

  #openStats(req: IncomingMessage, res: ServerResponse): void {
    const hub = this.#hub
    try {
      this.#admitStream(req)
      if (hub === undefined || hub.closed) throw new HubError('SSEHUB_ERR_NOT_FOUND', 'the hub is closed')
    } catch (error) {
      this.#refuse(res, error)
      return
    }
    const stream: StatsStream = { res, waiting: false }
    this.#streams.add(stream)
    const forget = (): void => {
      this.#streams.delete(stream)
    }
    req.once('close', forget)
    res.once('close', forget)
    res.writeHead(200, sseHeaders({ http2: req.httpVersionMajor >= 2 }))
    const hello = {
      startedAt: this.#startedAt,
      presenceEvents: this.#presenceEvents,
      history: this.stats.history(),
      errors: this.errors.list(),
      ...this.#snapshot(hub),
    }
    this.#write(
      stream,
      encodeControl({ retry: 2000 }) + encodeEvent({ event: 'hello', data: JSON.stringify(hello) }),
    )
  }

  #openTail(req: IncomingMessage, res: ServerResponse): void {
    const hub = this.#hub
    try {
      this.#admitStream(req)
      if (hub === undefined) throw new HubError('SSEHUB_ERR_NOT_FOUND', 'the hub is not ready')
      const url = new URL(req.url ?? '/', 'http://localhost')
      const channels = url.searchParams.getAll('channel')
      const info: SessionInfo = { address: this.#security.clientAddressOf(req) }
      this.#tailInfos.add(info)
      this.#tails++
      const stream = {
        channels,
        // A tail shows what happens from now on: no replay, whatever the request says.
        lastEventId: '',
        info,
        onClose: () => {
          this.#tails--
        },
      }
      try {
        serveEventStream(hub, req, res, stream)
      } catch (error) {
        // Refused before the session opened (invalid channels): onClose will not be called.
        this.#tails--
        throw error
      }
    } catch (error) {
      this.#refuse(res, error)
    }
  }

  #snapshot(hub: Hub): Record<string, unknown> {
    const selectors = hub.selectors()
    selectors.sort((a, b) => b.sessions - a.sessions || (a.selector < b.selector ? -1 : 1))
    return {
      totals: this.stats.totals(),
      errorsTotal: this.errors.total,
      selectors: selectors.slice(0, TOP_SELECTORS),
      selectorCount: selectors.length,
      adminStreams: this.#streams.size + this.#tails,
    }
  }

  #tick(): void {
    const hub = this.#hub
    if (hub === undefined) return
    const sample = this.stats.sample(hub, Date.now(), this.errors.total)
    if (this.#streams.size === 0) {
      this.#lastErrorsTotal = this.errors.total
      return
    }
    const changed = this.errors.total !== this.#lastErrorsTotal
    this.#lastErrorsTotal = this.errors.total
    const data = { sample, ...this.#snapshot(hub), ...(changed ? { errors: this.errors.list() } : {}) }
    // Encoded once, written to every admin stream.
    const chunk = encodeEvent({ event: 'stats', data: JSON.stringify(data) })
    for (const stream of this.#streams) this.#write(stream, chunk)
  }

  #write(stream: StatsStream, chunk: string): void {
    if (stream.waiting || stream.res.destroyed) return
    if (!stream.res.write(chunk)) {
      stream.waiting = true
      stream.res.once('drain', () => {
        stream.waiting = false
      })
    }
  }
}

/**
 * The security of `POST /admin/publish`: the admin token was checked already, so the publish
 * route's own token rules are off (and private events, which need a token key, are refused).
 */
export function adminPublishSecurity(security: Security): Security {
  return {
    ...security,
    authenticator: new Authenticator({
      mode: 'off',
      verifier: undefined,
      lookup: { cookie: DEFAULT_AUTH_COOKIE, query: false },
      privatePrefix: undefined,
    }),
  }
}
