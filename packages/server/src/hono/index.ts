export type { StreamContext, StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
export { STREAM_ERROR_EVENT } from '../fetch/stream-error-event.js'
export { type StreamEvent, type StreamEventInit, sseEvent } from '../node/sse-event.js'
export {
  createSseHandler,
  type HonoServeSseOptions,
  type HonoSseHandlerOptions,
  serveSse,
  streamEvents,
} from './hono-sse.js'
