import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ConnectOptions, type Hub, isSseError, type Session } from '@ssehub/core'
import { errorAnswer } from '../fetch/error-answer.js'
import {
  pumpEvents,
  resolveTiming,
  type StreamCounter,
  type StreamEventsOptions,
  type StreamSource,
} from '../fetch/event-pump.js'
import { startStream } from '../node/create-sse-handler.js'
import { lastEventIdOf } from '../node/last-event-id-of.js'
import { validateHeaders } from '../node/node-sink.js'
import { ExpressSink } from './express-sink.js'

/**
 * Options of {@link serveSse}: those of `hub.connect`, plus response headers.
 * @example
 * const options: ServeSseOptions = { channels: [`user/${req.user.id}`], onClose: (reason) => log(reason) }
 */
export interface ServeSseOptions extends ConnectOptions {
  /**
   * The id to resume after. `undefined` reads it from the request (the `Last-Event-ID` header,
   * else the `lastEventId` query parameter); `''` means "do not resume".
   * @defaultValue `lastEventIdOf(req)`
   */
  lastEventId?: string | undefined
  /**
   * Extra response headers, added to (and overriding) the event-stream headers. Headers set
   * earlier with `res.setHeader()` / `res.set()` (by CORS middleware, say) are kept too.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/**
 * Options of {@link createSseHandler}.
 * @example
 * const options: SseHandlerOptions = { channels: (req) => [`room/${(req as express.Request).params.id}`] }
 */
export interface SseHandlerOptions {
  /**
   * Picks the channels and patterns of a request. Throw an `SseError` to answer 400 with its code.
   * @defaultValue every `channel` query parameter, or `['sse']` when none
   */
  channels?: (req: IncomingMessage, url: URL) => readonly string[]
  /**
   * Extra response headers of the event stream, added to (and overriding) the event-stream headers.
   * @defaultValue none
   */
  headers?: Record<string, string>
}

/** An Express (or Connect) handler: `(req, res, next)`. */
export type SseRequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

const streams: StreamCounter = { count: 0 }

/**
 * How many {@link streamEvents} streams of the Express adapter are in progress.
 * @returns The count.
 * @example
 * import { activeStreamCount } from '@ssehub/server/express'
 * app.get('/healthz', (req, res) => res.json({ streams: activeStreamCount() }))
 */
export function activeStreamCount(): number {
  return streams.count
}

/**
 * Streams hub channels to one Express response and returns the session: `serveSse` of the
 * `node:http` adapter, made safe behind the `compression` middleware (see {@link createSseHandler}).
 *
 * @param hub - The hub to subscribe through.
 * @param req - The request.
 * @param res - The response.
 * @param options - Channels and patterns, where to resume, headers, `onClose`.
 * @returns The connected session.
 * @throws SseError before anything is written: `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`,
 *   `SSE_ERR_CHANNEL_INVALID`, `SSE_ERR_PATTERN_INVALID`, `SSE_ERR_LAST_EVENT_ID_TOO_LONG` (answer
 *   400), `SSE_ERR_HUB_CLOSED` (answer 503), `SSE_ERR_OPTION_INVALID` for an invalid header.
 * @example
 * import express from 'express'
 * import { createHub } from '@ssehub/core'
 * import { serveSse } from '@ssehub/server/express'
 *
 * const hub = createHub()
 * const app = express()
 * app.get('/me/events', (req, res) => {
 *   serveSse(hub, req, res, { channels: [`user/${req.get('x-user-id')}`] })
 * })
 */
export function serveSse(
  hub: Hub,
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeSseOptions,
): Session {
  const { headers, lastEventId, onClose, ...connect } = options
  const sink = new ExpressSink(req, res, headers)
  const session = hub.connect(sink, {
    ...connect,
    lastEventId: lastEventId ?? lastEventIdOf(req),
    onClose: (reason) => {
      // A client a whole queue behind is not reading: drop it rather than keep its stuck output.
      if (reason === 'overflow') sink.destroy()
      onClose?.(reason)
    },
  })
  sink.open()
  return session
}

/**
 * Streams the values of an async iterable as server-sent events from an Express route, without a
 * hub: "the generator way", with the same behaviour as the `node:http` adapter's `streamEvents`
 * (backpressure, heartbeats, `finally` on disconnect, a final `ssehub.error` event when the
 * source throws), made safe behind the `compression` middleware.
 *
 * @param req - The request (for `Last-Event-ID`).
 * @param res - The response.
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns A promise that resolves when the stream is over; it never rejects.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (synchronously) for an invalid `retryMs`, `heartbeatMs`
 *   or header.
 * @example
 * import express from 'express'
 * import { sseEvent, streamEvents } from '@ssehub/server/express'
 *
 * const app = express()
 * app.get('/progress', (req, res) => {
 *   void streamEvents(req, res, async function* ({ signal }) {
 *     for (let percent = 0; percent <= 100 && !signal.aborted; percent += 10) {
 *       yield sseEvent({ event: 'progress', data: { percent } })
 *       await new Promise((resolve) => setTimeout(resolve, 500))
 *     }
 *   })
 * })
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Promise<void> {
  const timing = resolveTiming(options)
  const sink = new ExpressSink(req, res, options.headers)
  return pumpEvents(sink, source, lastEventIdOf(req), options, timing, streams)
}

/**
 * Creates Express middleware (or a route handler) that streams hub channels:
 * `app.get('/events', createSseHandler(hub))`, or `app.use('/events', createSseHandler(hub))`.
 * Works with Express 4 and 5, and with any Connect-style router.
 *
 * Channels come from the `channel` query parameters (`?channel=news&channel=tasks/*`), or from
 * `options.channels`; the resume point from `Last-Event-ID` or the `lastEventId` query parameter.
 * Headers set by earlier middleware (CORS, `x-powered-by`) are kept. Invalid input is answered as
 * JSON `{"error":{"code","message","field"}}` (400, or 503 when the hub is closed); any other
 * error goes to `next(error)`, to your error handler. `HEAD` gets the head alone.
 *
 * Next to the `compression` middleware, events are never held back: the head says
 * `cache-control: no-cache, no-transform`, which `compression` honours by not compressing the
 * stream; should a compressor compress it anyway, each event is flushed with `res.flush()`.
 *
 * @param hub - The hub to subscribe through.
 * @param options - How to pick channels, extra headers.
 * @returns The middleware.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid header in `options.headers`.
 * @example
 * import compression from 'compression'
 * import express from 'express'
 * import { createHub } from '@ssehub/core'
 * import { createSseHandler } from '@ssehub/server/express'
 *
 * const hub = createHub()
 * const app = express()
 * app.use(compression())
 * app.get('/events', createSseHandler(hub))
 * app.listen(3000)
 */
export function createSseHandler(hub: Hub, options: SseHandlerOptions = {}): SseRequestHandler {
  const { channels: pick, headers } = options
  validateHeaders(headers)
  return (req, res, next) => {
    try {
      startStream(hub, req, res, pick, headers, serveSse)
    } catch (error) {
      if (!isSseError(error) || res.headersSent) {
        next(error)
        return
      }
      const answer = errorAnswer(error)
      res
        .writeHead(answer.status, {
          ...answer.headers,
          'content-length': String(Buffer.byteLength(answer.body)),
        })
        .end(answer.body)
    }
  }
}
