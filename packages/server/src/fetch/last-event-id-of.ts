/**
 * The id a client wants to resume after: the `Last-Event-ID` header, else the `lastEventId` query
 * parameter, else `undefined`. An empty value counts as absent.
 *
 * A browser's `EventSource` sends the header on every reconnect; the query parameter lets a page
 * resume on its very first connection (after a reload, from an id it stored). The value is not
 * validated here: `hub.connect` bounds its length, and an id the history does not know gets a
 * reset event.
 *
 * @param request - The Fetch request.
 * @param url - The request URL, if you already parsed it.
 * @returns The id, or `undefined`.
 * @example
 * import { lastEventIdOf } from '@ssehub/server/fetch'
 * const resumeAfter = lastEventIdOf(new Request('https://x/events?lastEventId=k9x2fq.4')) // 'k9x2fq.4'
 */
export function lastEventIdOf(request: Request, url?: URL): string | undefined {
  const header = request.headers.get('last-event-id')
  if (header !== null && header !== '') return header
  const query = (url ?? new URL(request.url)).searchParams.get('lastEventId')
  return query === null || query === '' ? undefined : query
}
