import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import {
  pumpEvents,
  resolveTiming,
  type StreamCounter,
  type StreamEventsOptions,
  type StreamSource,
} from '../fetch/event-pump.js'
import { createHttp2Sink } from './http2-sink.js'
import { lastEventIdOf } from './last-event-id-of.js'

const streams: StreamCounter = { count: 0 }

/**
 * How many {@link streamEvents} streams of the HTTP/2 adapter are in progress, for health checks,
 * metrics and leak tests.
 * @returns The count.
 * @example
 * import { activeStreamCount } from '@ssehub/server/http2'
 * console.log(`${activeStreamCount()} open streams`)
 */
export function activeStreamCount(): number {
  return streams.count
}

/**
 * Streams the values of an async iterable as server-sent events on one `node:http2` server stream,
 * without a hub: "the generator way".
 *
 * Sends the head (no connection-specific header) and a `retry:` hint at once, then one event per
 * value: a string as data, as-is; an `sseEvent(...)` with its fields; anything else as JSON data.
 * The iterator is not pulled while the client is behind (HTTP/2 flow control), heartbeats keep
 * proxies from closing a quiet stream, the iterator's `return()` runs when the client goes away
 * (a generator's `finally` runs), and a source that throws ends the stream with a last
 * `ssehub.error` event. The promise never rejects; it resolves when the stream is over.
 *
 * @param stream - The server stream (`'stream'` event, or `req.stream`).
 * @param headers - The request headers (for `last-event-id`).
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns A promise that resolves when the stream is over.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (synchronously) for an invalid `retryMs`, `heartbeatMs`
 *   or header.
 * @example
 * import { createServer } from 'node:http2'
 * import { sseEvent, streamEvents } from '@ssehub/server/http2'
 *
 * createServer().on('stream', (stream, headers) => {
 *   void streamEvents(stream, headers, async function* () {
 *     for (let n = 1; n <= 3; n++) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
 *   })
 * }).listen(8080)
 */
export function streamEvents(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Promise<void> {
  const timing = resolveTiming(options)
  const sink = createHttp2Sink(stream, options.headers === undefined ? {} : { headers: options.headers })
  return pumpEvents(sink, source, lastEventIdOf(headers), options, timing, streams)
}
