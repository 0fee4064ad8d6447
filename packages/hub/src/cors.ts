import type { IncomingMessage, ServerResponse } from 'node:http'
import { CORS_MAX_AGE_SECONDS } from './defaults.js'

/** Methods and request headers a preflight may ask for. */
const ALLOW_METHODS = 'GET, POST, OPTIONS'
const ALLOW_HEADERS = 'content-type, last-event-id, authorization, cache-control'
/** Response headers a page may read beyond the safelisted ones: a client backs off and refreshes by them. */
const EXPOSE_HEADERS = 'retry-after, www-authenticate'

/** The CORS policy of the hub: an allowlist of exact origins, and optionally `*`. */
export interface CorsPolicy {
  /** True when at least one origin is allowed (then every answer varies on `Origin`). */
  readonly enabled: boolean
  /**
   * How `origin` is allowed: `'exact'` (listed: the origin is echoed, with credentials), `'any'`
   * (only `*` matches: `Access-Control-Allow-Origin: *`, never with credentials), or false.
   */
  allows(origin: string | undefined): 'exact' | 'any' | false
  /** Sets the CORS headers of an actual (non-preflight) request; returns whether it was allowed. */
  apply(req: IncomingMessage, res: ServerResponse): boolean
  /** Sets the headers of a preflight answer (nothing for an origin that is not allowed). */
  preflight(req: IncomingMessage, res: ServerResponse): void
}

/**
 * Creates the CORS policy for an allowlist. An arbitrary `Origin` is never reflected: an origin
 * is echoed only when it is listed exactly, and `*` is answered as a literal `*` without
 * `Access-Control-Allow-Credentials`, as the Fetch standard requires. Origins that are not
 * allowed get no CORS header at all, so the browser blocks the response.
 * @param origins - Normalised origins (`https://app.example.com`) and/or `*`.
 */
export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const exact = new Set(origins.filter((origin) => origin !== '*'))
  const any = origins.includes('*')
  const enabled = origins.length > 0
  const allows = (origin: string | undefined): 'exact' | 'any' | false => {
    if (origin === undefined) return false
    if (exact.has(origin)) return 'exact'
    return any ? 'any' : false
  }
  const apply = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!enabled) return false
    res.setHeader('vary', 'Origin')
    const origin = req.headers.origin
    const how = allows(origin)
    if (how === false || origin === undefined) return false
    res.setHeader('access-control-expose-headers', EXPOSE_HEADERS)
    if (how === 'exact') {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('access-control-allow-credentials', 'true')
    } else {
      res.setHeader('access-control-allow-origin', '*')
    }
    return true
  }
  return {
    enabled,
    allows,
    apply,
    preflight(req, res) {
      if (!apply(req, res)) return
      res.setHeader('access-control-allow-methods', ALLOW_METHODS)
      res.setHeader('access-control-allow-headers', ALLOW_HEADERS)
      res.setHeader('access-control-max-age', String(CORS_MAX_AGE_SECONDS))
      // Chrome's Private Network Access: a public page reaching a hub on a private address asks first.
      if (req.headers['access-control-request-private-network'] === 'true') {
        res.setHeader('access-control-allow-private-network', 'true')
      }
    },
  }
}
