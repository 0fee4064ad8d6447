import {
  pumpEvents,
  resolveTiming,
  type StreamCounter,
  type StreamEventsOptions,
  type StreamSource,
} from './event-pump.js'
import { createFetchSink } from './fetch-sink.js'
import { lastEventIdOf } from './last-event-id-of.js'

const streams: StreamCounter = { count: 0 }

/**
 * How many {@link streamEvents} streams of the Fetch adapter (and of the Hono helpers) are in
 * progress, for health checks, metrics and leak tests.
 * @returns The count.
 * @example
 * import { activeStreamCount } from '@ssehub/server/fetch'
 * console.log(`${activeStreamCount()} open streams`)
 */
export function activeStreamCount(): number {
  return streams.count
}

/**
 * Streams the values of an async iterable as server-sent events in the body of a Fetch
 * `Response`, without a hub: "the generator way", for Hono, Bun, Deno and workers.
 *
 * The body starts with a `retry:` hint; then every value the source yields is one event: a string
 * as data, as-is (line breaks allowed); an `sseEvent(...)` with its fields; any other value as
 * JSON data. Backpressure is honoured: the iterator is pulled only while the body stream is below
 * its high-water mark, so a slow client slows the source down instead of filling memory.
 * Heartbeat comments keep proxies from closing a quiet stream.
 *
 * The stream is over when the source is done (the body ends; a browser's `EventSource`
 * reconnects after `retry`), when the client leaves (the runtime cancels the body or aborts
 * `request.signal`: the iterator's `return()` runs, so a generator's `finally` does), or when the
 * source throws or yields something that cannot be encoded (a last `ssehub.error` event with
 * data `{"message": ...}` is sent, and `options.onError` is told).
 *
 * @param request - The request (for `Last-Event-ID` and its `signal`).
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns The response to return from your handler.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an invalid `retryMs`, `heartbeatMs` or header.
 * @example
 * import { sseEvent, streamEvents } from '@ssehub/server/fetch'
 *
 * export default {
 *   fetch: (request: Request) =>
 *     streamEvents(request, async function* ({ signal }) {
 *       for (let percent = 0; percent <= 100 && !signal.aborted; percent += 10) {
 *         yield sseEvent({ event: 'progress', data: { percent } })
 *         await new Promise((resolve) => setTimeout(resolve, 500))
 *       }
 *     }),
 * }
 */
export function streamEvents(
  request: Request,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Response {
  const timing = resolveTiming(options)
  const sink = createFetchSink({
    signal: request.signal,
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  })
  void pumpEvents(sink, source, lastEventIdOf(request), options, timing, streams)
  return sink.response()
}
