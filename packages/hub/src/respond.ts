import type { IncomingMessage, ServerResponse } from 'node:http'
import { DISCARD_LINGER_MS } from './defaults.js'

/** The JSON error body of every non-2xx answer: `{ "error": { "code", "message", "field"?, "index"? } }`. */
export interface ErrorBody {
  error: {
    code: string
    message: string
    /** The offending field of the body (`channel`, `event`, `id`, `retry`, `data`, ...). */
    field?: string
    /** For an array body: the position of the offending event. */
    index?: number
  }
  /** For an array body that failed part-way: what was published before the failure. */
  published?: unknown[]
}

/** Optional parts of an error answer. */
export interface ErrorDetails {
  field?: string | undefined
  index?: number | undefined
  headers?: Record<string, string>
  published?: unknown[]
}

/** Answers with a JSON body. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  })
  res.end(text)
}

/** The code and message of the error each response answered with (for the admin page's error log). */
const sentErrors = new WeakMap<ServerResponse, { code: string; message: string }>()

/** The error `res` was answered with by {@link sendError}, if any. */
export function sentErrorOf(res: ServerResponse): { code: string; message: string } | undefined {
  return sentErrors.get(res)
}

/** Answers with the JSON error body. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details: ErrorDetails = {},
): void {
  const error: ErrorBody['error'] = { code, message }
  sentErrors.set(res, error)
  if (details.field !== undefined) error.field = details.field
  if (details.index !== undefined) error.index = details.index
  const body: ErrorBody =
    details.published === undefined ? { error } : { error, published: details.published }
  sendJson(res, status, body, details.headers)
}

/**
 * Answers an error before the request body was read (413, 415, 403, ...), then closes the
 * connection. The rest of the body is read and discarded (never buffered) for a short while
 * before the socket is destroyed: closing a socket with unread data makes the kernel answer with
 * a RST, which can destroy the error answer before the client reads it.
 */
export function sendErrorAndClose(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details: ErrorDetails = {},
): void {
  const socket = req.socket
  if (!req.complete) {
    req.removeAllListeners('data')
    req.resume()
    const timer = setTimeout(() => socket.destroy(), DISCARD_LINGER_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
    req.once('end', () => {
      clearTimeout(timer)
      // The answer went out with `connection: close`; end the socket once both sides are done.
      if (res.writableFinished) socket.end()
      else res.once('finish', () => socket.end())
    })
  }
  res.shouldKeepAlive = false
  sendError(res, status, code, message, { ...details, headers: { ...details.headers, connection: 'close' } })
}
