export type { StreamContext, StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
export { STREAM_ERROR_EVENT } from '../fetch/stream-error-event.js'
export { lastEventIdOf } from '../node/last-event-id-of.js'
export { type StreamEvent, type StreamEventInit, sseEvent } from '../node/sse-event.js'
export {
  createSseHandler,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type FastifySendLike,
  type ServeSseOptions,
  type SseHandlerOptions,
  serveSse,
  streamEvents,
} from './fastify-sse.js'
export { type SsehubPluginOptions, ssehubPlugin } from './ssehub-plugin.js'
