export { createSseHandler, type SseHandlerOptions } from './create-sse-handler.js'
export { lastEventIdOf } from './last-event-id-of.js'
export { createNodeSink, type NodeSink, type NodeSinkOptions } from './node-sink.js'
export { type ServeSseOptions, serveSse } from './serve-sse.js'
export { type StreamEvent, type StreamEventInit, sseEvent } from './sse-event.js'
export {
  activeStreamCount,
  STREAM_ERROR_EVENT,
  type StreamContext,
  type StreamEventsOptions,
  type StreamSource,
  streamEvents,
} from './stream-events.js'
