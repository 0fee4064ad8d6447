import type { IncomingMessage, ServerResponse } from 'node:http'
import { redactText } from '../redact.js'
import { sentErrorOf } from '../respond.js'
import type { HubLogger } from './logger.js'
import type { HubMetrics } from './metrics.js'

/** The route label of a request whose path matches no route. */
export const UNMATCHED_ROUTE = 'unmatched'

/**
 * Refusals worth an operator's attention (credentials, limits, overload): logged at `warn`. Other
 * client errors (a malformed channel, an unknown route) are logged at `debug`; a 500 is logged at
 * `error` where it is caught, with its stack, so it is not logged again here.
 */
const NOTEWORTHY = new Set([401, 403, 408, 413, 429, 431, 502, 503, 504])
/** Longest path logged: a request target may be kilobytes long. */
const MAX_LOGGED_PATH = 200

/** Settings of {@link createRequestObserver}. */
export interface RequestObserverOptions {
  readonly metrics?: HubMetrics | undefined
  readonly logger?: HubLogger | undefined
  /** The client address of a request (after trusted proxies). */
  readonly addressOf: (req: IncomingMessage) => string
}

/** Observes one request once it is routed: `route` is its route's path, or undefined for none. */
export type RequestObserver = (req: IncomingMessage, res: ServerResponse, route: string | undefined) => void

/**
 * Counts each answered request in `ssehub_http_requests_total` (by route, never by raw path, so
 * that a scan of random URLs adds no series) and logs each refusal with its error code. Both
 * happen when the head of the answer is written: an event stream is counted when it starts (its
 * response may be detached from the socket afterwards, so no later event of the response can be
 * relied on), and a request whose client left before any answer is not counted. Every answer of
 * the hub goes through `writeHead` (Node calls it for implicit heads too). Returns undefined when
 * there is nothing to observe, so the server adds nothing per request.
 */
export function createRequestObserver(options: RequestObserverOptions): RequestObserver | undefined {
  const { metrics, logger, addressOf } = options
  if (metrics === undefined && logger === undefined) return undefined
  const answered = (
    req: IncomingMessage,
    res: ServerResponse,
    route: string | undefined,
    status: number,
  ): void => {
    metrics?.request(route ?? UNMATCHED_ROUTE, status)
    if (logger === undefined || status < 400 || status === 500) return
    const level = NOTEWORTHY.has(status) ? 'warn' : 'debug'
    if (logger.isLevelEnabled?.(level) === false) return
    const code = sentErrorOf(res)?.code
    logger[level](
      {
        method: req.method,
        // Redacted before it is cut, so that the cut cannot hide a token from the redaction.
        path: redactText(pathOf(req.url)).slice(0, MAX_LOGGED_PATH),
        status,
        ...(code === undefined ? {} : { code }),
        address: addressOf(req),
      },
      'request refused',
    )
  }
  return (req, res, route) => {
    const writeHead = res.writeHead
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      res.writeHead = writeHead
      const status = typeof args[0] === 'number' ? args[0] : res.statusCode
      answered(req, res, route, status)
      return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args)
    } as typeof res.writeHead
  }
}

/** The path of a request target, without its query (which may carry a token). */
function pathOf(target: string | undefined): string {
  const raw = target ?? '/'
  const end = raw.search(/[?#]/)
  return end === -1 ? raw : raw.slice(0, end)
}
