import type { IncomingMessage, ServerResponse } from 'node:http'
import { DEFAULT_CHANNEL, type Hub, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'
import { errorAnswer } from '../fetch/error-answer.js'
import { lastEventIdOf, requestUrl } from './last-event-id-of.js'
import { validateHeaders } from './node-sink.js'
import { serveSse } from './serve-sse.js'

/**
 * Options of {@link createSseHandler}.
 * @example
 * // GET /rooms/42 streams the channel `room/42`
 * const options: SseHandlerOptions = {
 *   channels: (req, url) => [`room/${url.pathname.split('/')[2]}`],
 *   onError: (error) => console.error(error),
 * }
 * app.get('/rooms/:id', createSseHandler(hub, options))
 */
export interface SseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` ({@link DEFAULT_CHANNEL}) when none
   */
  channels?: (req: IncomingMessage, url: URL) => readonly string[]
  /**
   * Extra response headers of the event stream, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
  /**
   * Told about an unexpected error (not an `SseError`), which was answered with a generic 500.
   * @defaultValue none: the error is only answered
   */
  onError?: (error: unknown) => void
}

/**
 * Creates a request handler that streams hub channels: for `http.createServer(handler)`, or as a
 * route of Express and other Connect-style routers (`app.get('/events', handler)`).
 *
 * Channels come from the `channel` query parameters (`?channel=news&channel=tasks/*`), or from
 * `options.channels`; the resume point from the `Last-Event-ID` header or the `lastEventId` query
 * parameter. Invalid input is answered before anything is streamed, as JSON
 * `{"error":{"code","message","field"}}`: status 400 for a validation error, 503 when the hub (or
 * its broker) is closed, 500 (with a generic message) for anything else. A `HEAD` request gets the
 * event-stream head and no body.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers, `onError`.
 * @returns A `(req, res) => void` handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import { createServer } from 'node:http'
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/node'
 *
 * const hub = createHub()
 * createServer(createSseHandler(hub)).listen(8080)
 * // curl -N 'http://localhost:8080/?channel=news'
 * setInterval(() => void hub.publish('news', { at: Date.now() }), 1000)
 */
export function createSseHandler(
  hub: Hub,
  options: SseHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const { channels: pick, headers, onError } = options
  validateHeaders(headers)
  return (req, res) => {
    try {
      startStream(hub, req, res, pick, headers, serveSse)
    } catch (error) {
      answerError(res, error, onError)
    }
  }
}

/**
 * @internal What every `createSseHandler` does with a request (node and Express): pick its
 * channels, answer `HEAD` with the stream's head only, or hand the request to `serve`. Throws
 * (an `SseError` before anything is written) for the caller to answer.
 */
export function startStream<Req extends IncomingMessage, Res extends ServerResponse>(
  hub: Hub,
  req: Req,
  res: Res,
  pick: ((req: Req, url: URL) => readonly string[]) | undefined,
  headers: Record<string, string> | undefined,
  serve: (
    hub: Hub,
    req: Req,
    res: Res,
    options: { channels: readonly string[]; lastEventId: string; headers?: Record<string, string> },
  ) => unknown,
): void {
  const url = requestUrl(req)
  const channels = pick === undefined ? defaultChannels(url) : pick(req, url)
  if (req.method === 'HEAD') {
    if (hub.closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
    // A HEAD response has no body: subscribing would only hold the connection open.
    res.writeHead(200, { ...sseHeaders(), ...headers }).end()
    return
  }
  serve(hub, req, res, {
    channels,
    lastEventId: lastEventIdOf(req, url) ?? '',
    ...(headers === undefined ? {} : { headers }),
  })
}

/** The channels named by `?channel=` parameters, or the default channel. @internal */
export function defaultChannels(url: URL): string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}

/** Answers an error as JSON, unless the stream had already started (then it can only end). */
function answerError(
  res: ServerResponse,
  error: unknown,
  onError: ((error: unknown) => void) | undefined,
): void {
  const answer = errorAnswer(error, onError)
  if (res.headersSent) {
    res.destroy()
    return
  }
  res
    .writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) })
    .end(answer.body)
}
