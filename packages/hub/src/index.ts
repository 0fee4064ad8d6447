export type { PresenceEventData } from './admin/presence-events.js'
export type { ChannelBody, ChannelsBody, SubscriberEntry } from './admin/presence-routes.js'
export type { AuthMode } from './auth/authenticator.js'
export type { JwtAlgorithm } from './auth/token-verifier.js'
export { resolveServeConfig, type ServeConfig } from './config.js'
export * from './defaults.js'
export { HUB_ERROR_CODES, HubError, type HubErrorCode, type HubErrorOptions, isHubError } from './errors.js'
export {
  type BridgeConnectionRole,
  type BridgeRedisClient,
  FlaskSseBridge,
  type FlaskSseBridgeOptions,
  type FlaskSseBridgeStats,
  parseFlaskSseMessage,
} from './flask-sse-bridge.js'
export type { HubLogFn, HubLogger } from './observability/logger.js'
export type { HubMetricsOptions } from './observability/metrics.js'
export type { MetricsOptions } from './observability/metrics-route.js'
export { REDACTED, redactText, redactUrl } from './redact.js'
export type { HealthBody } from './routes/health-route.js'
export type { PublishResult } from './routes/publish-route.js'
export { type AuthSetting, resolveAuthMode, type SecurityOptions } from './security.js'
export { createHubServer, type HubServer, type HubServerOptions } from './server.js'
export { type MintOptions, mintToken } from './token-command.js'
