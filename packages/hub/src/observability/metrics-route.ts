import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HubError } from '../errors.js'
import { sendError } from '../respond.js'
import { HubMetrics, type HubMetricsOptions } from './metrics.js'
import { MAX_METRICS_TOP_CHANNELS } from './observability-defaults.js'
import { MIN_METRICS_TOKEN_LENGTH } from './observability-options.js'

/** The `metrics` option of `createHubServer`: how `GET /metrics` is served. */
export interface MetricsOptions extends HubMetricsOptions {
  /**
   * The bearer token a scrape must send (`Authorization: Bearer <token>`), at least 16
   * characters. Without one, anyone who reaches the hub reads its metrics, channel names included.
   * @defaultValue none
   */
  token?: string | undefined
  /**
   * Replaces how a scrape is answered, given this server's metrics once when the server is
   * created: `ssehub serve --workers` answers with every worker's metrics, summed by the primary.
   * @defaultValue this server's metrics and the process's
   */
  collect?: ((metrics: HubMetrics) => () => Promise<string>) | undefined
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/**
 * The metrics of a hub server and their route, from its `metrics` option (`false` for none).
 * @throws HubError `SSEHUB_ERR_OPTION_INVALID` for a short or malformed token or an invalid
 *   `topChannels`.
 */
export function createMetricsSetup(
  option: boolean | MetricsOptions | undefined,
): { metrics: HubMetrics; route: Handler } | undefined {
  if (option === false) return undefined
  const settings = option === true || option === undefined ? {} : option
  const { token, topChannels } = settings
  if (token !== undefined && (token.length < MIN_METRICS_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token))) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `metrics.token must be at least ${MIN_METRICS_TOKEN_LENGTH} visible ASCII characters`,
      { field: 'metrics.token' },
    )
  }
  if (
    topChannels !== undefined &&
    (!Number.isSafeInteger(topChannels) || topChannels < 0 || topChannels > MAX_METRICS_TOP_CHANNELS)
  ) {
    throw new HubError(
      'SSEHUB_ERR_OPTION_INVALID',
      `metrics.topChannels must be an integer from 0 to ${MAX_METRICS_TOP_CHANNELS}, got ${topChannels}`,
      { field: 'metrics.topChannels' },
    )
  }
  const metrics = new HubMetrics(settings)
  const collect = settings.collect?.(metrics)
  return { metrics, route: createMetricsRoute({ metrics, token, collect }) }
}

/** Settings of {@link createMetricsRoute}. */
export interface MetricsRouteOptions {
  readonly metrics: HubMetrics
  /** The bearer token a scrape must send (`Authorization: Bearer <token>`), or none. */
  readonly token?: string | undefined
  /** Answers a scrape. @defaultValue `metrics.exposition()` */
  readonly collect?: (() => Promise<string>) | undefined
}

const CHALLENGE = 'Bearer realm="ssehub metrics"'

/** SHA-256 first, so that the comparison takes the same time whatever the length of the guess. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * Creates the `GET /metrics` handler: the Prometheus text format (0.0.4) of the hub's metrics.
 * With a token, a scrape without `Authorization: Bearer <token>` is answered 401
 * `SSEHUB_ERR_TOKEN_MISSING`, one with another token 401 `SSEHUB_ERR_TOKEN_INVALID`; the token is
 * compared in constant time.
 */
export function createMetricsRoute(
  options: MetricsRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { metrics } = options
  const expected = options.token === undefined ? undefined : digest(options.token)
  return async (req, res) => {
    if (expected !== undefined) {
      const header = req.headers.authorization
      const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
      if (match === null) {
        sendError(
          res,
          401,
          'SSEHUB_ERR_TOKEN_MISSING',
          'GET /metrics needs Authorization: Bearer <metrics token>',
          {
            headers: { 'www-authenticate': CHALLENGE },
          },
        )
        return
      }
      if (!timingSafeEqual(digest(match[1] as string), expected)) {
        sendError(res, 401, 'SSEHUB_ERR_TOKEN_INVALID', 'the metrics token is not the one configured', {
          headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` },
        })
        return
      }
    }
    const text = await (options.collect ?? (() => metrics.exposition()))()
    res.writeHead(200, {
      'content-type': metrics.contentType,
      'content-length': String(Buffer.byteLength(text)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    res.end(req.method === 'HEAD' ? undefined : text)
  }
}
