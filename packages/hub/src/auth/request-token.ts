import type { IncomingMessage } from 'node:http'
import { HubError } from '../errors.js'

/** Where a request's token came from. */
export type TokenSource = 'header' | 'cookie' | 'query'

/** A token found on a request. */
export interface RequestToken {
  readonly token: string
  readonly source: TokenSource
}

/** The query parameter of a query-string token (RFC 6750 section 2.3). */
export const QUERY_TOKEN_PARAM = 'access_token'

/** How {@link findToken} looks for a token. */
export interface TokenLookup {
  /** The cookie holding a token, for browsers whose `EventSource` cannot send headers. */
  readonly cookie: string
  /** Whether `?access_token=` is accepted. */
  readonly query: boolean
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i

/** The first value of cookie `name` in a `Cookie` header (browsers send the most specific path first). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    let value = part.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    return value === '' ? undefined : value
  }
  return undefined
}

/**
 * Finds the token of a request: the `Authorization: Bearer` header, else the token cookie, else
 * (only when enabled) the `access_token` query parameter. Other `Authorization` schemes are
 * ignored, as if absent.
 * @throws HubError `SSEHUB_ERR_TOKEN_INVALID` for a `Bearer` header without a well-formed token;
 *   `SSEHUB_ERR_TOKEN_IN_QUERY` for a query-string token when they are not enabled (refused
 *   rather than ignored: the client would otherwise silently subscribe anonymously).
 */
export function findToken(req: IncomingMessage, url: URL, lookup: TokenLookup): RequestToken | undefined {
  const header = req.headers.authorization
  if (header !== undefined && /^bearer(\s|$)/i.test(header)) {
    const match = BEARER.exec(header)
    if (match === null) {
      throw new HubError('SSEHUB_ERR_TOKEN_INVALID', 'the Authorization header must be "Bearer <token>"')
    }
    return { token: match[1] as string, source: 'header' }
  }
  const cookie = cookieValue(req.headers.cookie, lookup.cookie)
  if (cookie !== undefined) return { token: cookie, source: 'cookie' }
  const query = url.searchParams.get(QUERY_TOKEN_PARAM)
  if (query !== null) {
    if (!lookup.query) {
      throw new HubError(
        'SSEHUB_ERR_TOKEN_IN_QUERY',
        `tokens in the URL end up in logs and are refused; send "Authorization: Bearer" or the ${lookup.cookie} cookie (or enable --auth-query-token)`,
      )
    }
    if (query !== '') return { token: query, source: 'query' }
  }
  return undefined
}
