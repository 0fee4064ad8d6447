import type { ConnectOptions, Hub, Session } from '@ssehub/core'
import { createFetchSink } from './fetch-sink.js'
import { lastEventIdOf } from './last-event-id-of.js'

/**
 * Options of {@link serveSse}: those of `hub.connect`, plus response headers and the body's
 * high-water mark.
 * @example
 * const options: ServeSseOptions = {
 *   channels: ['news', 'tasks/*'],
 *   headers: { 'access-control-allow-origin': 'https://app.example' },
 *   onClose: (reason) => console.log('session ended:', reason),
 * }
 */
export interface ServeSseOptions extends ConnectOptions {
  /**
   * The id to resume after. `undefined` reads it from the request with {@link lastEventIdOf}
   * (the `Last-Event-ID` header, else the `lastEventId` query parameter); `''` means "do not resume".
   * @defaultValue `lastEventIdOf(request)`
   */
  lastEventId?: string | undefined
  /**
   * Extra response headers, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
  /**
   * Bytes the response body may hold for a reader that is behind before the session starts
   * queueing (and, past its bound, disconnects the reader).
   * @defaultValue 65536
   */
  highWaterMarkBytes?: number
}

/**
 * A streaming response and the session behind it.
 * @example
 * const { response, session }: SseResponse = serveSse(hub, request, { channels: ['news'] })
 * setTimeout(() => session.close(), 60_000) // end the stream after a minute
 * return response
 */
export interface SseResponse {
  /** Return it from your handler: status 200, the event-stream headers, a streaming body. */
  readonly response: Response
  /** The connected session (`session.close()` ends the body). */
  readonly session: Session
}

/**
 * Streams hub channels as the body of a Fetch `Response`: for Hono, Bun, Deno, workers, or any
 * `Request → Response` server.
 *
 * Validates the channels and `lastEventId` first (through `hub.connect`), so an invalid request
 * throws before anything is created and the caller can still answer 400. The `retry:` hint is
 * queued at once, so the runtime flushes the head and a first chunk without waiting for an event.
 * The session ends when the client goes away (the runtime cancels the body, or aborts
 * `request.signal`), when you call `session.close()` or the hub closes (the body then ends), or
 * when the client falls so far behind that its queue overflows: the body is then errored, so the
 * runtime drops the connection, and the client resumes from its `Last-Event-ID`.
 *
 * @param hub - The hub to subscribe through.
 * @param request - The request (its headers, URL and `signal` are read).
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The response to return, and the session.
 * @throws SseError `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`, `SSE_ERR_CHANNEL_INVALID`,
 *   `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG` (answer 400), `SSE_ERR_HUB_CLOSED`
 *   (answer 503); `SSE_ERR_OPTION_INVALID` for an invalid header or high-water mark.
 * @example
 * import { createHub } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/fetch'
 *
 * const hub = createHub()
 * export default {
 *   fetch: (request: Request) => serveSse(hub, request, { channels: ['news'] }).response,
 * }
 */
export function serveSse(hub: Hub, request: Request, options: ServeSseOptions): SseResponse {
  const { headers, highWaterMarkBytes, lastEventId, onClose, ...connect } = options
  const sink = createFetchSink({
    signal: request.signal,
    ...(headers === undefined ? {} : { headers }),
    ...(highWaterMarkBytes === undefined ? {} : { highWaterMarkBytes }),
  })
  let session: Session
  try {
    session = hub.connect(sink, {
      ...connect,
      lastEventId: lastEventId ?? lastEventIdOf(request),
      onClose: (reason) => {
        // A reader a whole queue behind is not reading: ending the body cleanly would keep the
        // connection, and everything queued in it, for as long as the client holds it open.
        if (reason === 'overflow') sink.destroy()
        onClose?.(reason)
      },
    })
  } catch (error) {
    sink.close()
    throw error
  }
  return { response: sink.response(), session }
}
