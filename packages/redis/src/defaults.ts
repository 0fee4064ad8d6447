/** Every default of the Redis broker, as a named constant. `docs/brokers.md` says why each value. */

/** Prefix of every key the broker writes; several hubs can share one Redis with distinct prefixes. */
export const DEFAULT_KEY_PREFIX = 'ssehub:'
/**
 * Longest a publish or replay waits for Redis (connecting included) before it rejects with
 * `SSE_ERR_BROKER_UNAVAILABLE`. A few seconds: longer than a Redis failover's common case, shorter
 * than an HTTP client's patience.
 */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 3_000
/**
 * Events kept in the shared live feed (the one stream every node reads). A node cut off from Redis
 * catches up from it; a node that falls further behind recovers from channel history, or reports a gap.
 */
export const DEFAULT_FEED_LIMIT = 10_000
/**
 * Channels whose history and losses are remembered. Past it the least recently published channel
 * is forgotten: its history is dropped and its loss folded into one floor, like the memory broker's.
 */
export const DEFAULT_CHANNEL_LIMIT = 100_000
/**
 * How long one blocking read of the live feed waits. Bounds how late the reader notices an epoch
 * created without events and how long a stalled reader connection goes unnoticed.
 */
export const READER_BLOCK_MS = 1_000
/** Most feed entries one blocking read returns (bounded so a reply stays small with large events). */
export const READER_BATCH = 100
/** Connection names, as `CLIENT LIST` shows them. */
export const COMMANDS_CONNECTION_NAME = 'ssehub-commands'
export const READER_CONNECTION_NAME = 'ssehub-reader'
