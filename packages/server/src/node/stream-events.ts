import type { IncomingMessage, ServerResponse } from 'node:http'
import { ERROR_EVENT } from '@ssehub/core'
import { ExpressSink } from '../express/express-sink.js'
import {
  pumpEvents,
  resolveTiming,
  type StreamCounter,
  type StreamEventsOptions,
  type StreamSource,
} from '../fetch/event-pump.js'
import { lastEventIdOf } from './last-event-id-of.js'

export type { StreamContext, StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'

/**
 * The event type of the last event of a stream whose iterator failed; its data is `{"message": ...}`.
 * @example
 * // in the browser
 * source.addEventListener('ssehub.error', (e) => console.warn(JSON.parse(e.data).message))
 */
export const STREAM_ERROR_EVENT = ERROR_EVENT

const streams: StreamCounter = { count: 0 }

/**
 * How many {@link streamEvents} streams are in progress in this process, for health checks, metrics
 * and leak tests.
 * @returns The count.
 * @example
 * import { activeStreamCount } from '@ssehub/server/node'
 * console.log(`${activeStreamCount()} open streams`)
 */
export function activeStreamCount(): number {
  return streams.count
}

/**
 * Streams the values of an async iterable as server-sent events, without a hub: "the generator way".
 *
 * Writes the head (and a `retry:` hint) at once, then sends every value the source yields as one
 * event: a string as data, as-is (line breaks allowed); an {@link sseEvent} with its fields; any
 * other value as JSON data. It honours backpressure: when the client falls behind, the next
 * value is pulled only after the response drained, so a slow client slows the source down rather
 * than filling memory. Heartbeat comments keep proxies from closing a quiet stream.
 *
 * The returned promise never rejects. It resolves when the stream is over:
 * - the source is done: the response ends (a browser's `EventSource` reconnects after `retry`);
 * - the client disconnects: the iterator's `return()` is called, so a generator's `finally` runs
 *   (at once if it waits at a `yield`; if it is inside an `await`, when that settles: pass
 *   `context.signal` to what it awaits);
 * - the source throws, or yields a value that cannot be encoded: a last event of type
 *   `ssehub.error` ({@link STREAM_ERROR_EVENT}) with data `{"message": ...}` is sent, the response
 *   ends, and `options.onError` is told.
 *
 * @param req - The request (for `Last-Event-ID`, and its socket is tuned for streaming).
 * @param res - The response to stream to.
 * @param source - An async iterable, or a function of `{ lastEventId, signal }` returning one.
 * @param options - `retryMs`, `heartbeatMs`, `headers`, `errorMessage`, `onError`.
 * @returns A promise that resolves when the stream is over.
 * @throws SseError `SSE_ERR_OPTION_INVALID` (synchronously) for an invalid `retryMs`, `heartbeatMs` or
 *   header.
 * @example
 * import { createServer } from 'node:http'
 * import { setTimeout as sleep } from 'node:timers/promises'
 * import { sseEvent, streamEvents } from '@ssehub/server/node'
 *
 * createServer((req, res) => {
 *   void streamEvents(req, res, async function* ({ lastEventId, signal }) {
 *     let n = Number(lastEventId ?? 0)
 *     while (true) {
 *       await sleep(1000, undefined, { signal })
 *       n++
 *       yield sseEvent({ event: 'tick', id: String(n), data: { n } })
 *     }
 *   })
 * }).listen(8080)
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  source: StreamSource,
  options: StreamEventsOptions = {},
): Promise<void> {
  const timing = resolveTiming(options)
  // The same pump as every other adapter; the Express sink is a node sink that also flushes
  // through a compressor when one wraps the response.
  const sink = new ExpressSink(req, res, options.headers)
  return pumpEvents(sink, source, lastEventIdOf(req), options, timing, streams)
}
