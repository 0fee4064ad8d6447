import type { IncomingMessage } from 'node:http'

/** Any base will do: only the path and query of `req.url` are read. */
const BASE = 'http://localhost'

/**
 * The URL of a request, for reading its query. Never throws: an unparsable `req.url` still gives
 * its query string.
 * @internal
 */
export function requestUrl(req: IncomingMessage): URL {
  const raw = req.url ?? '/'
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
 * The id a client wants to resume after: the `Last-Event-ID` header, else the `lastEventId` query
 * parameter, else `undefined`.
 *
 * A browser's `EventSource` sends the header on every reconnect; the query parameter lets a page
 * resume on its very first connection (after a reload, from an id it stored). An empty value
 * counts as absent. The value is not validated here: `hub.connect` bounds its length and an id
 * the history does not know gets a reset event.
 *
 * @param req - The request.
 * @param url - The request URL, if you already parsed it; otherwise `req.url` is parsed.
 * @returns The id, or `undefined`.
 * @example
 * import { createServer } from 'node:http'
 * import { lastEventIdOf } from '@ssehub/server/node'
 *
 * createServer((req, res) => {
 *   res.end(`resume after ${lastEventIdOf(req) ?? 'nothing'}`)
 * }).listen(8080)
 */
export function lastEventIdOf(req: IncomingMessage, url?: URL): string | undefined {
  const header = req.headers['last-event-id']
  if (typeof header === 'string' && header !== '') return header
  const query = (url ?? requestUrl(req)).searchParams.get('lastEventId')
  return query === null || query === '' ? undefined : query
}
