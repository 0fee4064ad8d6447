import { DEFAULT_CHANNEL, type Hub, SseError } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'
import { errorAnswer } from './error-answer.js'
import { validateFetchHeaders } from './fetch-sink.js'
import { lastEventIdOf } from './last-event-id-of.js'
import { serveSse } from './serve-sse.js'

/**
 * Options of {@link createSseHandler}.
 * @example
 * // GET /rooms/42 streams the channel `room/42`
 * const options: SseHandlerOptions = { channels: (request, url) => [`room/${url.pathname.split('/')[2]}`] }
 */
export interface SseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` when none
   */
  channels?: (request: Request, url: URL) => readonly string[]
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
 * Creates a `Request → Response` handler that streams hub channels, for any Fetch-based server.
 *
 * Channels come from the `channel` query parameters (`?channel=news&channel=tasks/*`), or from
 * `options.channels`; the resume point from the `Last-Event-ID` header or the `lastEventId` query
 * parameter. Invalid input is answered before anything is streamed, as JSON
 * `{"error":{"code","message","field"}}`: 400 for a validation error, 503 when the hub (or its
 * broker) is closed, 500 with a generic message for anything else. `HEAD` gets the head alone.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers, `onError`.
 * @returns The handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/fetch'
 *
 * const hub = createHub()
 * const events = createSseHandler(hub)
 * Deno.serve((request) => events(request)) // or Bun.serve({ fetch: events })
 */
export function createSseHandler(hub: Hub, options: SseHandlerOptions = {}): (request: Request) => Response {
  const { channels: pick, headers, onError } = options
  validateFetchHeaders(headers)
  return (request) => {
    try {
      const url = new URL(request.url)
      const channels = pick === undefined ? defaultChannels(url) : pick(request, url)
      if (request.method === 'HEAD') {
        if (hub.closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
        return new Response(null, { status: 200, headers: { ...sseHeaders({ http2: true }), ...headers } })
      }
      return serveSse(hub, request, {
        channels,
        lastEventId: lastEventIdOf(request, url) ?? '',
        ...(headers === undefined ? {} : { headers }),
      }).response
    } catch (error) {
      const answer = errorAnswer(error, onError)
      return new Response(answer.body, { status: answer.status, headers: answer.headers })
    }
  }
}

function defaultChannels(url: URL): string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}
