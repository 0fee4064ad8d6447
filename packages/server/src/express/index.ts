export type { StreamContext, StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
export { STREAM_ERROR_EVENT } from '../fetch/stream-error-event.js'
export { lastEventIdOf } from '../node/last-event-id-of.js'
export { type StreamEvent, type StreamEventInit, sseEvent } from '../node/sse-event.js'
export {
  activeStreamCount,
  createSseHandler,
  type ServeSseOptions,
  type SseHandlerOptions,
  type SseRequestHandler,
  serveSse,
  streamEvents,
} from './express-sse.js'
