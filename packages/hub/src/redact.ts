import { QUERY_TOKEN_PARAM } from './auth/request-token.js'

/** What replaces a secret in printed text. */
export const REDACTED = '[redacted]'

/** Query parameters whose values are credentials. */
const SECRET_PARAMS = [QUERY_TOKEN_PARAM, 'token', 'authorization', 'jwt', 'password', 'secret']

const PARAM = new RegExp(`([?&;](?:${SECRET_PARAMS.join('|')})=)[^&#\\s"'<>]*`, 'gi')
const BEARER = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi
/** A compact JWS: three base64url parts, the first a JSON header (`eyJ` is `{"`). */
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g
/** The userinfo of a URL (`https://user:password@host`), anywhere in the text. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@?#\s]*@/gi

/**
 * Removes credentials from text about to be printed or logged: passwords in URLs, values of
 * token-like query parameters (`access_token=...`), `Bearer` credentials, and anything shaped like
 * a JWT. Every
 * line the hub and the CLI print about requests goes through it.
 * @example
 * redactText('GET /events?channel=a&access_token=eyJ...') // => 'GET /events?channel=a&access_token=[redacted]'
 */
export function redactText(text: string): string {
  return text
    .replace(USERINFO, `$1${REDACTED}@`)
    .replace(PARAM, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(JWT, REDACTED)
}

/**
 * A URL (or request target such as `/events?access_token=...`) safe to print: credentials in
 * the query and the userinfo part (`https://user:pass@host`) replaced.
 */
export function redactUrl(url: string | URL): string {
  return redactText(String(url))
}
