/** Every default of the client, as a named constant. `docs/client.md` says why each value. */

/** The reconnection time before the server sends `retry:`; the hub sends 2000 too. */
export const DEFAULT_RETRY_MS = 2_000
/** The cap of the exponential backoff (unless the server's `retry:` is larger). */
export const DEFAULT_MAX_RETRY_MS = 30_000
/** The heartbeat interval the client expects (the hub's default: WHATWG advises ~15 s). */
export const DEFAULT_HEARTBEAT_MS = 15_000
/** A connection is stalled after this many heartbeat intervals without a byte. */
export const DEFAULT_STALL_MULTIPLIER = 2
/** Events an async iterator buffers before the client stops reading the network. */
export const DEFAULT_ITERATOR_BUFFER_SIZE = 1_000
/** The in-band event type the hub sends when history cannot cover a Last-Event-ID. */
export const RESET_EVENT = 'ssehub.reset'
/** The prefix of the storage key under which the last event id is persisted. */
export const STORAGE_KEY_PREFIX = 'ssehub:last-event-id:'
/** setTimeout's largest delay (2^31 - 1 ms); longer ones fire at once in browsers and Node. */
export const MAX_TIMER_MS = 2_147_483_647
