import { DEFAULT_CHANNEL, type Hub, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { errorAnswer } from '../fetch/error-answer.js'
import type { StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
import { validateFetchHeaders } from '../fetch/fetch-sink.js'
import { lastEventIdOf } from '../fetch/last-event-id-of.js'
import { type ServeSseOptions, serveSse as serveFetch } from '../fetch/serve-sse.js'
import { streamEvents as streamFetch } from '../fetch/stream-events.js'

/**
 * Options of {@link serveSse}: those of the Fetch adapter's `serveSse`.
 * @example
 * const options: HonoServeSseOptions = { channels: ['news'], onClose: (reason) => console.log(reason) }
 */
export type HonoServeSseOptions = ServeSseOptions

/**
 * Options of {@link createSseHandler}.
 * @example
 * // GET /rooms/:id streams the channel `room/<id>`
 * const options: HonoSseHandlerOptions = { channels: (c) => [`room/${c.req.param('id')}`] }
 */
export interface HonoSseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` when none
   */
  channels?: (c: Context, url: URL) => readonly string[]
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

/** Hands a Fetch response to Hono, so that headers set earlier with `c.header()` (CORS...) are kept. */
function respond(c: Context, response: Response): Response {
  // Our event-stream responses always have a body and status 200.
  return c.body(response.body as ReadableStream<Uint8Array>, { status: 200, headers: response.headers })
}

/**
 * Streams hub channels from a Hono route: the Fetch adapter's `serveSse` on `c.req.raw`, with the
 * headers set earlier by middleware (`c.header()`) kept.
 *
 * @param c - The Hono context.
 * @param hub - The hub to subscribe through.
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The response to return from the route.
 * @throws SseError as the Fetch adapter's `serveSse` (answer 400, or 503 for `SSE_ERR_HUB_CLOSED`).
 *   Use `serveSse` from `@ssehub/server/fetch` with `c.req.raw` when you need the session.
 * @example
 * import { Hono } from 'hono'
 * import { createHub } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/hono'
 *
 * const hub = createHub()
 * const app = new Hono()
 * app.get('/rooms/:id/events', (c) => serveSse(c, hub, { channels: [`room/${c.req.param('id')}`] }))
 */
export function serveSse(c: Context, hub: Hub, options: HonoServeSseOptions): Response {
  return respond(c, serveFetch(hub, c.req.raw, options).response)
}

/**
 * Streams an async iterable as server-sent events from a Hono route: the Fetch adapter's
 * `streamEvents` on `c.req.raw` (backpressure, heartbeats, `finally` on disconnect, a final
 * `ssehub.error` event when the source throws).
 *
 * @param c - The Hono context.
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns The response to return from the route.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid `retryMs`, `heartbeatMs` or header.
 * @example
 * import { Hono } from 'hono'
 * import { sseEvent, streamEvents } from '@ssehub/server/hono'
 *
 * const app = new Hono()
 * app.get('/countdown', (c) =>
 *   streamEvents(c, async function* () {
 *     for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', data: { n } })
 *   }),
 * )
 */
export function streamEvents(c: Context, source: StreamSource, options: StreamEventsOptions = {}): Response {
  return respond(c, streamFetch(c.req.raw, source, options))
}

/**
 * Creates a Hono handler that streams hub channels: `app.get('/events', createSseHandler(hub))`.
 *
 * Channels come from the `channel` query parameters, or from `options.channels`; the resume point
 * from `Last-Event-ID` or the `lastEventId` query parameter. Invalid input is answered as JSON
 * `{"error":{"code","message","field"}}`: 400, 503 when the hub is closed, 500 (generic) for
 * anything else. `HEAD` gets the head alone.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers, `onError`.
 * @returns The handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import { Hono } from 'hono'
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/hono'
 *
 * const hub = createHub()
 * const app = new Hono()
 * app.get('/events', createSseHandler(hub))
 */
export function createSseHandler(hub: Hub, options: HonoSseHandlerOptions = {}): (c: Context) => Response {
  const { channels: pick, headers, onError } = options
  validateFetchHeaders(headers)
  return (c) => {
    try {
      const request = c.req.raw
      const url = new URL(request.url)
      const channels = pick === undefined ? defaultChannels(url) : pick(c, url)
      if (request.method === 'HEAD') {
        if (hub.closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
        return c.body(null, 200, { ...sseHeaders({ http2: true }), ...headers })
      }
      return serveSse(c, hub, {
        channels,
        lastEventId: lastEventIdOf(request, url) ?? '',
        ...(headers === undefined ? {} : { headers }),
      })
    } catch (error) {
      const answer = errorAnswer(error, onError)
      return c.body(answer.body, { status: answer.status as ContentfulStatusCode, headers: answer.headers })
    }
  }
}

function defaultChannels(url: URL): string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}
