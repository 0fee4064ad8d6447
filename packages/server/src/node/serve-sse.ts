import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ConnectOptions, Hub, Session } from '@ssehub/core'
import { lastEventIdOf } from './last-event-id-of.js'
import { NodeResponseSink, validateHeaders } from './node-sink.js'
import { SocketSink } from './socket-sink.js'

/**
 * Options of {@link serveSse}: those of `hub.connect`, plus response headers.
 * @example
 * const options: ServeSseOptions = {
 *   channels: ['news', 'tasks/*'],
 *   headers: { 'access-control-allow-origin': 'https://app.example' },
 *   onClose: (reason) => console.log('session ended:', reason),
 * }
 * serveSse(hub, req, res, options)
 */
export interface ServeSseOptions extends ConnectOptions {
  /**
   * The id to resume after. `undefined` reads it from the request with {@link lastEventIdOf}
   * (the `Last-Event-ID` header, else the `lastEventId` query parameter); `''` means "do not resume".
   * @defaultValue `lastEventIdOf(req)`
   */
  lastEventId?: string | undefined
  /**
   * Extra response headers, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/**
 * Streams hub channels to one `node:http` response and returns the session.
 *
 * Validates the channels and `lastEventId` first (through `hub.connect`), so an invalid request
 * throws before anything is written and the caller can still answer 400; then writes and flushes
 * the head at once, even when the hub has nothing to send yet. The session ends when the client
 * disconnects, when you call `session.close()` or when the hub closes (the response then ends),
 * or when the client falls so far behind that its queue overflows (the connection is then
 * dropped: the client reconnects and resumes from its `Last-Event-ID`); `onClose` tells which.
 *
 * @param hub - The hub to subscribe through.
 * @param req - The request.
 * @param res - The response to stream to.
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The connected session.
 * @throws SseError `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`, `SSE_ERR_CHANNEL_INVALID`,
 *   `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG` (nothing written yet: answer 400),
 *   `SSE_ERR_HUB_CLOSED` (answer 503); `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import { createServer } from 'node:http'
 * import { createHub, isSseError } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/node'
 *
 * const hub = createHub()
 * createServer((req, res) => {
 *   try {
 *     serveSse(hub, req, res, { channels: ['news', 'tasks/*'] })
 *   } catch (error) {
 *     res.writeHead(isSseError(error, 'SSE_ERR_HUB_CLOSED') ? 503 : 400).end()
 *   }
 * }).listen(8080)
 */
export function serveSse(
  hub: Hub,
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeSseOptions,
): Session {
  const headers = options.headers
  // HTTP/1.x: the coalescing sink that takes the socket over after the head (issue 7); HTTP/2
  // compatibility responses keep the response sink.
  validateHeaders(headers)
  const sink: SocketSink | NodeResponseSink =
    req.httpVersionMajor === 1 ? new SocketSink(req, res, headers) : new NodeResponseSink(req, res, headers)
  const onClose = options.onClose
  const session = hub.connect(sink, {
    channels: options.channels,
    lastEventId: options.lastEventId ?? lastEventIdOf(req),
    canRead: options.canRead,
    expiresAt: options.expiresAt,
    info: options.info,
    // A client that fell a whole queue behind is not reading: ending the response politely would
    // keep its socket, and the output stuck in it, for as long as the client holds it open (no
    // timeout applies to a stream). Drop it; it resumes from its Last-Event-ID. The socket sink
    // does so itself when the session closes it with 'overflow' (no closure per stream, issue 7).
    onClose:
      sink instanceof SocketSink
        ? onClose
        : (reason) => {
            // (No reference to `req` or `res` here: this closure lives as long as the session.)
            if (reason === 'overflow') sink.destroy()
            onClose?.(reason)
          },
  })
  sink.open()
  return session
}
