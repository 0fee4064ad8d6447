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
