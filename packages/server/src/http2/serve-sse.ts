import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { ConnectOptions, Hub, Session } from '@ssehub/core'
import { createHttp2Sink } from './http2-sink.js'
import { lastEventIdOf } from './last-event-id-of.js'

/**
 * Options of {@link serveSse}: those of `hub.connect`, plus response headers.
 * @example
 * const options: ServeSseOptions = { channels: ['news', 'tasks/*'], onClose: (reason) => console.log(reason) }
 */
export interface ServeSseOptions extends ConnectOptions {
  /**
   * The id to resume after. `undefined` reads it from the request headers with
   * {@link lastEventIdOf}; `''` means "do not resume".
   * @defaultValue `lastEventIdOf(headers)`
   */
  lastEventId?: string | undefined
  /**
   * Extra response headers, added to (and overriding) the event-stream headers. Connection-specific
   * headers are left out.
   * @defaultValue none
   */
  headers?: OutgoingHttpHeaders
}

/**
 * Streams hub channels to one `node:http2` server stream and returns the session.
 *
 * Validates the channels and `lastEventId` first (through `hub.connect`), so an invalid request
 * throws before anything is sent; then sends the head at once. The response carries no
 * connection-specific header, so a browser multiplexes any number of event streams over one
 * connection instead of hitting HTTP/1.1's six-connections-per-origin limit. The session ends when
 * the client closes the stream, when you call `session.close()` or the hub closes (the stream then
 * ends), or when the client falls so far behind that its queue overflows (the stream is then
 * reset; the client resumes from its `Last-Event-ID`).
 *
 * @param hub - The hub to subscribe through.
 * @param stream - The server stream (`'stream'` event, or `req.stream` with the compatibility API).
 * @param headers - The request headers.
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The connected session.
 * @throws SseError `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`, `SSE_ERR_CHANNEL_INVALID`,
 *   `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG` (answer 400), `SSE_ERR_HUB_CLOSED`
 *   (answer 503); `SSE_ERR_OPTION_INVALID` for an invalid header.
 * @example
 * import { createSecureServer } from 'node:http2'
 * import { createHub } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/http2'
 *
 * const hub = createHub()
 * createSecureServer({ key, cert }).on('stream', (stream, headers) => {
 *   serveSse(hub, stream, headers, { channels: ['news'] })
 * }).listen(8443)
 */
export function serveSse(
  hub: Hub,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: ServeSseOptions,
): Session {
  const { headers: extra, lastEventId, onClose, ...connect } = options
  const sink = createHttp2Sink(stream, extra === undefined ? {} : { headers: extra })
  const session = hub.connect(sink, {
    ...connect,
    lastEventId: lastEventId ?? lastEventIdOf(headers),
    onClose: (reason) => {
      // A client a whole queue behind is not reading: reset its stream rather than keep the
      // output stuck in it for as long as the client holds the stream open.
      if (reason === 'overflow') sink.destroy()
      onClose?.(reason)
    },
  })
  sink.open()
  return session
}
