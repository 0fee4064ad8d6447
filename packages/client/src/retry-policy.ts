import { MAX_TIMER_MS } from './defaults.js'

/**
 * Statuses worth retrying: the server is overloaded, restarting or rate-limiting (408, 429 and
 * 5xx other than 501 Not Implemented and 505 HTTP Version Not Supported, which will not change).
 * Every other status except 200, 204, 401 and 403 fails the connection for good, as the
 * standard's EventSource does for all of them: 400, 404, 405, 406, 410, 413, 415, 422, ... —
 * retrying a request the server calls wrong only hammers it.
 */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505)
  )
}

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from `now`;
 * 0 when absent or invalid.
 */
export function retryAfterMs(value: string | null, now: number): number {
  if (value === null) return 0
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  return ms > 0 ? Math.min(ms, MAX_TIMER_MS) : 0
}

/**
 * Exponential backoff with full jitter: a uniform random delay in
 * `[0, min(cap, base * 2^(attempt - 1)))`, where `base` is the server's reconnection time and
 * `cap` is `maxRetryMs`, raised to `base` if the server asks for more (a base of 0 counts as 1 ms,
 * so that the ceiling still grows). `attempt` counts the
 * consecutive failures (1 for the first). See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  // A base of at least 1 ms: `retry: 0` must not turn consecutive failures into a busy loop.
  const ceiling = Math.min(Math.max(maxMs, baseMs), (baseMs || 1) * 2 ** (attempt - 1))
  return Math.floor(random() * ceiling)
}
