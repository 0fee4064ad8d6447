import type { IncomingHttpHeaders } from 'node:http2'

/** Any base will do: only the path and query of `:path` are read. */
const BASE = 'http://localhost'

/**
 * The URL of an HTTP/2 request (from its `:path`), for reading its query. Never throws.
 * @internal
 */
export function http2RequestUrl(headers: IncomingHttpHeaders): URL {
  const path = headers[':path']
  const raw = typeof path === 'string' ? path : '/'
  try {
    return new URL(raw, BASE)
  } catch {
    const url = new URL(BASE)
    const query = raw.indexOf('?')
    if (query !== -1) url.search = raw.slice(query)
    return url
  }
}

/**
 * The id an HTTP/2 client wants to resume after: the `last-event-id` header, else the
 * `lastEventId` query parameter of `:path`, else `undefined`. An empty value counts as absent.
 *
 * @param headers - The request headers (of the `'stream'` event, or `req.headers`).
 * @param url - The request URL, if you already parsed it.
 * @returns The id, or `undefined`.
 * @example
 * import { lastEventIdOf } from '@ssehub/server/http2'
 * lastEventIdOf({ ':path': '/events?lastEventId=k9x2fq.4' }) // => 'k9x2fq.4'
 */
export function lastEventIdOf(headers: IncomingHttpHeaders, url?: URL): string | undefined {
  const header = headers['last-event-id']
  if (typeof header === 'string' && header !== '') return header
  const query = (url ?? http2RequestUrl(headers)).searchParams.get('lastEventId')
  return query === null || query === '' ? undefined : query
}
