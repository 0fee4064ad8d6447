export type {
  Broker,
  BrokerEvent,
  BrokerGap,
  BrokerState,
  EventListener,
  GapListener,
  PublishMessage,
  ReplayResult,
  ResetReason,
  Subscription,
} from './broker.js'
export { Deadlines } from './deadlines.js'
export * from './defaults.js'
export {
  describeError,
  ERROR_CODES,
  isSseError,
  SseError,
  type SseErrorCode,
  type SseErrorOptions,
} from './errors.js'
export {
  type ConnectOptions,
  createHub,
  Hub,
  type HubObserver,
  type HubOptions,
  type HubStats,
  type PublishOptions,
} from './hub.js'
export { formatHubId, isHubIdForm, newEpoch, parseHubId } from './ids.js'
export { MemoryBroker, type MemoryBrokerOptions, MemoryBus } from './memory-broker.js'
export { isPattern, matches, type SelectorLimits, validateChannel, validateSelectors } from './selector.js'
export { type CloseReason, Session, type SessionCloseOptions, type SessionInfo } from './session.js'
export type { Sink, SinkWatcher } from './sink.js'
export { SubscriptionIndex } from './subscription-index.js'
export * from './wire/index.js'
