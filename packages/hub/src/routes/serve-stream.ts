import type { IncomingMessage, ServerResponse } from 'node:http'
import { Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { Hub, Session } from '@ssehub/core'
import { serveSse as serveHttp2Sse } from '@ssehub/server/http2'
import { type ServeSseOptions, serveSse } from '@ssehub/server/node'

/**
 * Streams hub channels to one request of the hub server (the events route, the admin tail):
 * HTTP/1.1 through the node adapter; HTTP/2 (compatibility API) on the HTTP/2 stream itself,
 * keeping the headers already set on the response (CORS).
 * @throws SseError as `serveSse` does, before anything is sent.
 */
export function serveEventStream(
  hub: Hub,
  req: IncomingMessage,
  res: ServerResponse,
  options: Omit<ServeSseOptions, 'headers'>,
): Session {
  const compat = req as unknown
  if (compat instanceof Http2ServerRequest) {
    const headers = (res as unknown as Http2ServerResponse).getHeaders()
    return serveHttp2Sse(hub, compat.stream, compat.headers, { ...options, headers })
  }
  return serveSse(hub, req, res, options)
}
