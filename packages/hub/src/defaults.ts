import { readFileSync } from 'node:fs'
/** Every default of the standalone hub server, as a named constant. `docs/hub-api.md` lists them. */

/**
 * The interface `ssehub serve` listens on. Loopback only: the publish API has no authentication
 * yet, so exposing it to the network must be a deliberate `--host 0.0.0.0`. Browsers and Node's
 * `fetch` reach it as `http://localhost:<port>` (they try IPv4 when `::1` refuses).
 */
export const DEFAULT_HOST = '127.0.0.1'
/** The port `ssehub serve` listens on. */
export const DEFAULT_PORT = 8080
/** Largest `POST /publish` body, in bytes (1 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** Most events one `POST /publish` array may hold. */
export const DEFAULT_MAX_BATCH_EVENTS = 1_000
/**
 * After answering 413, how long the server keeps discarding the rest of the body before it
 * destroys the socket. Closing a socket with unread data makes the kernel send a RST, which can
 * wipe the 413 from the client's receive buffer before the client reads it.
 */
export const DISCARD_LINGER_MS = 2_000
/** How long `close()` waits for connections to end before it destroys them. */
export const CLOSE_GRACE_MS = 5_000

/** Node's default listen backlog. */
const NODE_LISTEN_BACKLOG = 511

/**
 * The listen backlog of the hub: the kernel's maximum where it can be read (Linux), as Go's
 * net package does, else Node's 511. Measured (BENCHMARKS.md, S5): 5,000 clients reconnecting at
 * once overflow 511 and the dropped handshakes wait out a one-second SYN retransmission.
 */
export function defaultListenBacklog(): number {
  try {
    const value = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim())
    return Number.isSafeInteger(value) && value > 0 ? value : NODE_LISTEN_BACKLOG
  } catch {
    return NODE_LISTEN_BACKLOG
  }
}
/** How long browsers may cache a CORS preflight answer, in seconds. */
export const CORS_MAX_AGE_SECONDS = 600
/** The URL the `publish` and `subscribe` commands use when `--url` and `SSEHUB_URL` are absent. */
export const DEFAULT_HUB_URL = 'http://localhost:8080'
/** The cookie a browser's `EventSource` sends its token in (`--auth-cookie`). */
export const DEFAULT_AUTH_COOKIE = 'ssehub_token'
/** Leeway for a token's `exp` and `nbf`, in seconds (clocks of issuer and hub differ a little). */
export const DEFAULT_JWT_CLOCK_TOLERANCE_S = 5
/** Open event streams on one hub (`--max-connections`); beyond, 503 with `Retry-After`. */
export const DEFAULT_MAX_CONNECTIONS = 10_000
/**
 * Open event streams per client address (`--max-connections-per-ip`, IPv6 counted per /64);
 * beyond, 429. High enough for an office behind one NAT address, low enough that one address
 * cannot take the whole hub.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 256
/** Open event streams per token subject (`--max-connections-per-subject`): a user's tabs and devices. */
export const DEFAULT_MAX_CONNECTIONS_PER_SUBJECT = 64
/** `Retry-After` of a refused stream, in seconds. */
export const LIMIT_RETRY_AFTER_S = 5
/** Longest pattern a subscriber may use (`--max-pattern-length`); every publish scans the patterns. */
export const DEFAULT_MAX_PATTERN_LENGTH = 200
/** Largest data of one event in UTF-8 bytes (`--max-data-bytes`). */
export const DEFAULT_MAX_DATA_BYTES = 1024 * 1024
/** Events per second one token subject (or, anonymously, one client address) may publish. */
export const DEFAULT_PUBLISH_RATE = 1_000
/** Events one idle publisher may publish at once (`--publish-burst`). */
export const DEFAULT_PUBLISH_BURST = 2_000
/** Publishers whose rate is tracked at once; the least recently seen is forgotten beyond. */
export const DEFAULT_RATE_LIMIT_KEYS = 10_000
/** Time for a client to send the request headers (`--headers-timeout-ms`, Node's `headersTimeout`). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
/** Time for a client to send a whole request (`--request-timeout-ms`, Node's `requestTimeout`). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** Time for a `POST /publish` body to arrive once its headers have (`--body-timeout-ms`). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000
/** Presence events of channel `c` are published on `ssehub.presence/c` (`--presence-events`). */
export const PRESENCE_CHANNEL_PREFIX = 'ssehub.presence/'
/** At most one presence event per channel per this interval; the rest is coalesced. */
export const DEFAULT_PRESENCE_INTERVAL_MS = 1_000
/** Errors the admin page lists (the most recent ones). */
export const ADMIN_ERROR_LOG_SIZE = 100
/** Seconds of history the admin page's charts start with. */
export const ADMIN_HISTORY_SIZE = 120
/** Admin streams (statistics and tails) open at once; more are refused with 429. */
export const ADMIN_MAX_STREAMS = 16
/** Most channels, patterns or subscribers one presence listing returns (`?limit=` up to it). */
export const PRESENCE_LIST_LIMIT = 1_000
/**
 * Window over which a drain (SIGTERM, `HubServer.drain`) closes the open streams, in waves
 * (`--drain-ms`), so that their clients reconnect to other nodes spread over it rather than all
 * at once.
 */
export const DEFAULT_DRAIN_MS = 10_000
/** Interval between two waves of a drain; the first wave comes one interval after readiness flips. */
export const DRAIN_WAVE_MS = 250
/** `Retry-After` of a stream refused while the hub drains, in seconds: go elsewhere, soon. */
export const DRAIN_RETRY_AFTER_S = 1
/** While draining, how often keep-alive connections with nothing in flight are closed. */
export const DRAIN_IDLE_SWEEP_MS = 50
/** Longest period of the one shared timer that ends streams past `--max-stream-ms`. */
export const MAX_LIFETIME_SWEEP_MS = 1_000
