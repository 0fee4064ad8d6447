import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { type ConnectOptions, DEFAULT_CHANNEL, type Hub, isSseError, type Session } from '@ssehub/core'
import { errorAnswer } from '../fetch/error-answer.js'
import type { StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
import { serveSse as serveHttp2 } from '../http2/serve-sse.js'
import { streamEvents as streamHttp2 } from '../http2/stream-events.js'
import { lastEventIdOf, requestUrl } from '../node/last-event-id-of.js'
import { serveSse as serveNode } from '../node/serve-sse.js'
import { streamEvents as streamNode } from '../node/stream-events.js'

/**
 * What the adapter needs of a Fastify request (any server type: `http`, `https`, `http2`).
 * `FastifyRequest` satisfies it.
 */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage | Http2ServerRequest
  readonly url: string
}

/** What the adapter needs of a Fastify reply. `FastifyReply` satisfies it. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse | Http2ServerResponse
  hijack(): unknown
  getHeaders(): Record<string, number | string | string[] | undefined>
}

/**
 * Options of {@link serveSse}: those of `hub.connect`, plus response headers.
 * @example
 * const options: ServeSseOptions = { channels: [`user/${request.user.id}`] }
 */
export interface ServeSseOptions extends ConnectOptions {
  /**
   * The id to resume after. `undefined` reads it from the request (the `Last-Event-ID` header,
   * else the `lastEventId` query parameter); `''` means "do not resume".
   * @defaultValue read from the request
   */
  lastEventId?: string | undefined
  /**
   * Extra response headers, added to (and overriding) the event-stream headers. Headers set
   * earlier with `reply.header()` (in hooks, say) are kept too.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/**
 * Options of {@link createSseHandler}.
 * @example
 * const options: SseHandlerOptions = { channels: (request) => [`room/${(request.params as { id: string }).id}`] }
 */
export interface SseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` when none
   */
  channels?: (request: FastifyRequestLike & { readonly params?: unknown }, url: URL) => readonly string[]
  /**
   * Extra response headers of the event stream.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

function isHttp2(raw: IncomingMessage | Http2ServerRequest): raw is Http2ServerRequest {
  return raw.httpVersionMajor >= 2
}

/** The headers set on the reply so far (by hooks, `reply.header()`), as strings, then `extra`. */
function mergedHeaders(
  reply: FastifyReplyLike,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined) continue
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  // Fastify's default content type for a reply must not win over the event stream's.
  delete headers['content-type']
  delete headers['content-length']
  return extra === undefined ? headers : Object.assign(headers, extra)
}

/**
 * Streams hub channels from a Fastify route and returns the session. The reply is hijacked
 * (`reply.hijack()`) once the request was validated, so Fastify sends nothing of its own; headers
 * set earlier with `reply.header()` are kept. Works on every Fastify server type, `http2: true`
 * included (no connection-specific header is sent there).
 *
 * @param hub - The hub to subscribe through.
 * @param request - The Fastify request.
 * @param reply - The Fastify reply.
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The connected session.
 * @throws SseError before the reply is hijacked or anything written (so Fastify's error handler can
 *   answer): `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`, `SSE_ERR_CHANNEL_INVALID`,
 *   `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG`, `SSE_ERR_HUB_CLOSED`,
 *   `SSE_ERR_OPTION_INVALID` for an invalid header.
 * @example
 * import Fastify from 'fastify'
 * import { createHub } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/fastify'
 *
 * const hub = createHub()
 * const app = Fastify()
 * app.get('/rooms/:id/events', (request, reply) => {
 *   serveSse(hub, request, reply, { channels: [`room/${(request.params as { id: string }).id}`] })
 * })
 */
export function serveSse(
  hub: Hub,
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  options: ServeSseOptions,
): Session {
  const raw = request.raw
  const headers = mergedHeaders(reply, options.headers)
  const session = isHttp2(raw)
    ? serveHttp2(hub, raw.stream, raw.headers, { ...options, headers: headers as OutgoingHttpHeaders })
    : serveNode(hub, raw, reply.raw as ServerResponse, { ...options, headers })
  reply.hijack()
  return session
}

/**
 * Streams the values of an async iterable as server-sent events from a Fastify route, without a
 * hub: "the generator way" (backpressure, heartbeats, `finally` on disconnect, a final
 * `ssehub.error` event when the source throws). The reply is hijacked; headers set earlier with
 * `reply.header()` are kept.
 *
 * @param request - The Fastify request (for `Last-Event-ID`).
 * @param reply - The Fastify reply.
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns A promise that resolves when the stream is over; it never rejects.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (synchronously, before hijacking) for an invalid
 *   `retryMs`, `heartbeatMs` or header.
 * @example
 * import Fastify from 'fastify'
 * import { sseEvent, streamEvents } from '@ssehub/server/fastify'
 *
 * const app = Fastify()
 * app.get('/countdown', (request, reply) => {
 *   void streamEvents(request, reply, async function* () {
 *     for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', data: { n } })
 *   })
 * })
 */
export function streamEvents(
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Promise<void> {
  const raw = request.raw
  const merged = { ...options, headers: mergedHeaders(reply, options.headers) }
  const done = isHttp2(raw)
    ? streamHttp2(raw.stream, raw.headers, source, merged)
    : streamNode(raw, reply.raw as ServerResponse, source, merged)
  reply.hijack()
  return done
}

/**
 * Creates a Fastify route handler that streams hub channels: `app.get('/events', createSseHandler(hub))`.
 *
 * Channels come from the `channel` query parameters, or from `options.channels`; the resume point
 * from `Last-Event-ID` or the `lastEventId` query parameter. Invalid input is answered through
 * Fastify (so your hooks see it) as JSON `{"error":{"code","message","field"}}`: 400, or 503 when
 * the hub is closed; any other error is thrown to Fastify's error handler.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers.
 * @returns The route handler.
 * @example
 * import Fastify from 'fastify'
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/fastify'
 *
 * const hub = createHub()
 * const app = Fastify()
 * app.get('/events', createSseHandler(hub))
 * await app.listen({ port: 3000 })
 */
export function createSseHandler(
  hub: Hub,
  options: SseHandlerOptions = {},
): (request: FastifyRequestLike, reply: FastifyReplyLike & FastifySendLike) => void {
  const { channels: pick, headers } = options
  return (request, reply) => {
    try {
      const url = requestUrl(request.raw as IncomingMessage)
      const channels = pick === undefined ? defaultChannels(url) : pick(request, url)
      serveSse(hub, request, reply, {
        channels,
        lastEventId: lastEventIdOf(request.raw as IncomingMessage, url) ?? '',
        ...(headers === undefined ? {} : { headers }),
      })
    } catch (error) {
      if (!isSseError(error)) throw error
      const answer = errorAnswer(error)
      reply.code(answer.status).headers(answer.headers).send(answer.body)
    }
  }
}

/** The part of a Fastify reply used to answer errors. */
export interface FastifySendLike {
  code(status: number): FastifySendLike
  headers(values: Record<string, string>): FastifySendLike
  send(payload: string): unknown
}

function defaultChannels(url: URL): string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}
