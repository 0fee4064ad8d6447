export {
  type RawEvent,
  SseClientError,
  type SseClientErrorCode,
  type SseClientErrorOptions,
} from './client-error.js'
export type {
  ClientBody,
  ClientOptions,
  ClientTimers,
  FetchLike,
  LastEventIdStorage,
  ReconnectStrategy,
  RequestContext,
  UnauthorizedContext,
  VisibilitySource,
} from './client-options.js'
export { connect } from './connect.js'
export {
  type BuiltinEvents,
  ClientErrorEvent,
  type DefaultEventMap,
  type EventMap,
  type MessageData,
  type MessageEvents,
  ResetEvent,
  type SseClientEventMap,
  type SseEvent,
  type SseMessageEvent,
} from './events.js'
export { isRetryableStatus } from './retry-policy.js'
export { type ListenerEvent, type ReadyState, SseClient } from './sse-client.js'
export type {
  InferOutput,
  StandardSchemaIssue,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaV1,
} from './standard-schema.js'
