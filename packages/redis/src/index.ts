export {
  DEFAULT_CHANNEL_LIMIT,
  DEFAULT_FEED_LIMIT,
  DEFAULT_KEY_PREFIX,
  DEFAULT_PUBLISH_TIMEOUT_MS,
} from './defaults.js'
export type { ConnectionRole, RedisClientFactory, RedisClientLike, RedisClusterLike } from './link.js'
export {
  type ReconnectStrategy,
  RedisBroker,
  type RedisBrokerClientOptions,
  type RedisBrokerClusterOptions,
  type RedisBrokerOptions,
} from './redis-broker.js'
