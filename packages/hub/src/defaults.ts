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
