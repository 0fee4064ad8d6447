/** Response headers of an event stream, and the content-type check of the client (WIRE.md). */

/**
 * The MIME type essence of an event stream, without parameters.
 *
 * @example
 * fetch(url, { headers: { accept: SSE_CONTENT_TYPE } })
 */
export const SSE_CONTENT_TYPE = 'text/event-stream'

/**
 * Options for {@link sseHeaders}.
 *
 * @example
 * sseHeaders({ http2: true })
 */
export interface SseHeadersOptions {
  /**
   * The response goes out over HTTP/2 (or HTTP/3), where connection-specific headers such as
   * `connection` are forbidden (RFC 9113, section 8.2.2).
   * @defaultValue false
   */
  http2?: boolean
}

/**
 * Returns the response headers of an event stream, with lowercase names.
 *
 * - `content-type: text/event-stream; charset=utf-8` (the stream is always UTF-8; clients ignore
 *   the parameter, but it stops proxies and browsers' devtools from guessing).
 * - `cache-control: no-cache, no-transform`: no cache may store or replay the stream, and
 *   `no-transform` keeps proxies from compressing it, which would buffer events.
 * - `x-accel-buffering: no`: nginx and similar reverse proxies pass each chunk on at once.
 * - `connection: keep-alive`, on HTTP/1.1 only.
 *
 * A new object is returned on every call, so the caller may add to it.
 *
 * @param options - `http2: true` leaves out `connection`.
 * @returns The headers, as a plain object of lowercase names.
 * @throws Never.
 * @example
 * response.writeHead(200, sseHeaders({ http2: request.httpVersionMajor >= 2 }))
 */
export function sseHeaders(options: SseHeadersOptions = {}): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': `${SSE_CONTENT_TYPE}; charset=utf-8`,
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  }
  if (options.http2 !== true) headers.connection = 'keep-alive'
  return headers
}

// The essence is what comes before the first `;`, minus HTTP whitespace (tab, LF, CR, space) at
// either end, compared ASCII case-insensitively. A regex without the `u` flag folds case for
// ASCII only, unlike toLowerCase(), which maps e.g. U+212A KELVIN SIGN to `k`.
const EVENT_STREAM_ESSENCE = /^[\t\n\r ]*text\/event-stream[\t\n\r ]*(?:;|$)/i

/**
 * Tells whether a `content-type` value names an event stream: its MIME type essence is
 * `text/event-stream`.
 *
 * The type and subtype are compared case-insensitively, parameters (such as `charset`, which the
 * standard says to ignore) are ignored, and HTTP whitespace around the essence is trimmed. A
 * missing header (`null`, `undefined`) or an empty one is not an event stream. A client must fail
 * the connection, without reconnecting, when this returns false.
 *
 * @param value - The `content-type` header value, as `Headers.get()` returns it.
 * @returns True when the essence is `text/event-stream`.
 * @throws Never.
 * @example
 * isEventStreamContentType('Text/Event-Stream; charset=utf-8') // => true
 * isEventStreamContentType('text/plain')                       // => false
 */
export function isEventStreamContentType(value: string | null | undefined): boolean {
  return typeof value === 'string' && EVENT_STREAM_ESSENCE.test(value)
}
