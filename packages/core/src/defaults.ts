/** Every default of the engine, as a named constant. `docs/decisions.md` says why each value. */

/** Period of the shared timer that ends sessions past their expiry (a token's `exp`). */
export const DEFAULT_EXPIRY_SWEEP_MS = 1_000
/** Heartbeat comment interval. WHATWG advises ~15 s; proxies drop idle streams after 30-60 s. */
export const DEFAULT_HEARTBEAT_MS = 15_000
/** The `retry:` hint sent on connect. Peers use 1-3 s. */
export const DEFAULT_RETRY_MS = 2_000
/** Per-session outgoing queue bound in bytes (Centrifugo: 1 MiB). */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024
/** Per-session outgoing queue bound in events (Mercure: 1000). */
export const DEFAULT_MAX_QUEUE_EVENTS = 1_000
/** History kept per channel, in events. */
export const DEFAULT_HISTORY_LIMIT = 1_000
/** History kept per channel, in milliseconds (1 hour). */
export const DEFAULT_HISTORY_TTL_MS = 60 * 60 * 1000
/** Total bytes of event data the memory broker keeps in history across all channels. */
export const DEFAULT_HISTORY_MAX_BYTES = 64 * 1024 * 1024
/** Most events one replay may return before the hub answers with a reset instead. */
export const DEFAULT_REPLAY_LIMIT = 10_000
/** Channels and patterns one connection may subscribe to (Mercure 100, Centrifugo 128). */
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 100
/** Longest channel name or pattern, in UTF-16 code units. */
export const DEFAULT_MAX_CHANNEL_LENGTH = 200
/** Longest event type. */
export const DEFAULT_MAX_EVENT_LENGTH = 200
/** Longest event id, publisher-supplied or received as Last-Event-ID (browsers preflight past 128). */
export const DEFAULT_MAX_ID_LENGTH = 128
/** Largest data of one event, in UTF-16 code units of the serialised string. */
export const DEFAULT_MAX_DATA_LENGTH = 1024 * 1024
/** Parser bound for one unterminated line or event, in characters. */
export const DEFAULT_MAX_BUFFER_SIZE = 1024 * 1024
/** The channel a connection subscribes to when it names none (Flask-SSE's default). */
export const DEFAULT_CHANNEL = 'sse'
/** Reserved prefix: event types and channel names that only the hub may emit. */
export const RESERVED_PREFIX = 'ssehub.'
/** The in-band event type sent when history cannot cover a Last-Event-ID. */
export const RESET_EVENT = 'ssehub.reset'
/** The final event type of a per-request stream whose source failed. */
export const ERROR_EVENT = 'ssehub.error'
