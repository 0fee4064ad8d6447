import { isSseError, type SseErrorCode } from '@ssehub/core'

/** Codes that say "try again later" rather than "your request is wrong". */
const UNAVAILABLE: ReadonlySet<SseErrorCode> = new Set([
  'SSE_ERR_HUB_CLOSED',
  'SSE_ERR_BROKER_CLOSED',
  'SSE_ERR_BROKER_UNAVAILABLE',
])

/** How an error before the stream started is answered, by every adapter alike. */
export interface ErrorAnswer {
  readonly status: number
  /** JSON `{"error":{"code","message","field"?}}`. */
  readonly body: string
  readonly headers: Record<string, string>
}

/**
 * Maps an error thrown while setting a stream up to its answer: 400 for an `SseError` about the
 * request (with its code and field), 503 with `retry-after` when the hub or its broker is closed
 * or down, and 500 with a generic message (reporting the error to `onError`) for anything else, so
 * internals never leak.
 * @internal
 */
export function errorAnswer(error: unknown, onError?: (error: unknown) => void): ErrorAnswer {
  let status = 500
  let body: { code: string; message: string; field?: string }
  if (isSseError(error)) {
    status = UNAVAILABLE.has(error.code) ? 503 : 400
    body = { code: error.code, message: error.message }
    if (error.field !== undefined) body.field = error.field
  } else {
    body = { code: 'SSE_ERR_SERVER_INTERNAL', message: 'internal error' }
    try {
      onError?.(error)
    } catch {
      // a failing error reporter must not take the server down
    }
  }
  return {
    status,
    body: JSON.stringify({ error: body }),
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      // Unavailable is temporary: say when to come back (clients add their own jitter).
      ...(status === 503 ? { 'retry-after': '5' } : {}),
    },
  }
}
