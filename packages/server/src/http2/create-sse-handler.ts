import { IncomingMessage, type ServerResponse } from 'node:http'
import {
  constants,
  Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2'
import { DEFAULT_CHANNEL, type Hub, SseError } from '@ssehub/core'
import { errorAnswer } from '../fetch/error-answer.js'
import { createSseHandler as createNodeHandler } from '../node/create-sse-handler.js'
import { assignHttp2Headers, http2Head, validateHttp2Headers } from './http2-sink.js'
import { http2RequestUrl, lastEventIdOf } from './last-event-id-of.js'
import { serveSse } from './serve-sse.js'

/**
 * Options of {@link createSseHandler}.
 * @example
 * // GET /rooms/42 streams the channel `room/42`
 * const options: Http2SseHandlerOptions = { channels: (url) => [`room/${url.pathname.split('/')[2]}`] }
 */
export interface Http2SseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` when none
   */
  channels?: (url: URL, headers: IncomingHttpHeaders) => readonly string[]
  /**
   * Extra response headers of the event stream, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
  /**
   * Told about an unexpected error (not an `SseError`), which was answered with a generic 500.
   * @defaultValue none
   */
  onError?: (error: unknown) => void
}

/**
 * The handler of {@link createSseHandler}: a `'stream'` listener, and a request listener of the
 * compatibility API, HTTP/1.1 fallback (`allowHTTP1`) included.
 */
export interface Http2SseHandler {
  /** The core API: `server.on('stream', handler)`. */
  (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void
  /** The compatibility API: `createSecureServer(options, handler)`; headers set on `res` are kept. */
  (req: Http2ServerRequest, res: Http2ServerResponse): void
  /** An HTTP/1.1 request of a server with `allowHTTP1: true`: served by the `node:http` adapter. */
  (req: IncomingMessage, res: ServerResponse): void
}

/**
 * Creates a handler that streams hub channels over `node:http2` (TLS or h2c), and over HTTP/1.1
 * on a server created with `allowHTTP1: true`.
 *
 * Use it as `server.on('stream', handler)`, or as the request listener of the compatibility API
 * (`http2.createSecureServer(options, handler)`), where headers set earlier with `res.setHeader()`
 * (CORS, say) are kept. Channels come from the `channel` query parameters or `options.channels`;
 * the resume point from `last-event-id` or the `lastEventId` query parameter. Invalid input is
 * answered as JSON `{"error":{"code","message","field"}}`: 400, 503 when the hub is closed, 500
 * (generic) for anything else. `HEAD` gets the head alone.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers, `onError`.
 * @returns The handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import { readFileSync } from 'node:fs'
 * import { createSecureServer } from 'node:http2'
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/http2'
 *
 * const hub = createHub()
 * const options = { key: readFileSync('key.pem'), cert: readFileSync('cert.pem'), allowHTTP1: true }
 * createSecureServer(options, createSseHandler(hub)).listen(8443)
 */
export function createSseHandler(hub: Hub, options: Http2SseHandlerOptions = {}): Http2SseHandler {
  const { channels: pick, headers, onError } = options
  validateHttp2Headers(headers)
  const http1 = createNodeHandler(hub, {
    ...(pick === undefined ? {} : { channels: (req: IncomingMessage, url: URL) => pick(url, req.headers) }),
    ...(headers === undefined ? {} : { headers }),
    ...(onError === undefined ? {} : { onError }),
  })

  const serve = (
    stream: ServerHttp2Stream,
    requestHeaders: IncomingHttpHeaders,
    set?: OutgoingHttpHeaders,
  ) => {
    const extra = set === undefined ? headers : { ...set, ...headers }
    try {
      const url = http2RequestUrl(requestHeaders)
      const channels = pick === undefined ? defaultChannels(url) : pick(url, requestHeaders)
      if (requestHeaders[constants.HTTP2_HEADER_METHOD] === 'HEAD') {
        if (hub.closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
        stream.respond(http2Head(extra), { endStream: true })
        return
      }
      serveSse(hub, stream, requestHeaders, {
        channels,
        lastEventId: lastEventIdOf(requestHeaders, url) ?? '',
        ...(extra === undefined ? {} : { headers: extra }),
      })
    } catch (error) {
      answerError(stream, error, onError, set)
    }
  }

  return ((first: ServerHttp2Stream | Http2ServerRequest | IncomingMessage, second: unknown): void => {
    if (first instanceof Http2ServerRequest) {
      serve(first.stream, first.headers, (second as Http2ServerResponse).getHeaders())
    } else if (first instanceof IncomingMessage) {
      http1(first, second as ServerResponse)
    } else {
      serve(first, second as IncomingHttpHeaders)
    }
  }) as Http2SseHandler
}

function defaultChannels(url: URL): string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}

/** Answers an error as JSON, unless the stream had already started (then it can only be reset). */
function answerError(
  stream: ServerHttp2Stream,
  error: unknown,
  onError: ((error: unknown) => void) | undefined,
  set: OutgoingHttpHeaders | undefined,
): void {
  const answer = errorAnswer(error, onError)
  if (stream.destroyed) return
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR)
    return
  }
  const head: OutgoingHttpHeaders = {}
  // Keep what middleware set (CORS), so that the browser can read the error.
  assignHttp2Headers(head, set)
  Object.assign(head, answer.headers, {
    [constants.HTTP2_HEADER_STATUS]: answer.status,
    'content-length': String(Buffer.byteLength(answer.body)),
  })
  stream.respond(head)
  stream.end(answer.body)
}
