export { type StreamEvent, type StreamEventInit, sseEvent } from '../node/sse-event.js'
export { createSseHandler, type SseHandlerOptions } from './create-sse-handler.js'
export type { StreamContext, StreamEventsOptions, StreamSource } from './event-pump.js'
export {
  createFetchSink,
  DEFAULT_HIGH_WATER_MARK_BYTES,
  type FetchSink,
  type FetchSinkOptions,
} from './fetch-sink.js'
export { lastEventIdOf } from './last-event-id-of.js'
export { type ServeSseOptions, type SseResponse, serveSse } from './serve-sse.js'
export { STREAM_ERROR_EVENT } from './stream-error-event.js'
export { activeStreamCount, streamEvents } from './stream-events.js'
