import type { IncomingMessage, ServerResponse } from 'node:http'
import { DEFAULT_CHANNEL, type Hub, isPattern, isSseError, SseError, validateSelectors } from '@ssehub/core'
import { sseHeaders } from '@ssehub/core/wire'
import { lastEventIdOf } from '@ssehub/server/node'
import { isHubError } from '../errors.js'
import { addressKey } from '../limits/client-address.js'
import type { StreamSlot } from '../limits/connection-limiter.js'
import { refusalHeaders } from '../refusal.js'
import { sendError } from '../respond.js'
import type { Security } from '../security.js'
import { serveEventStream } from './serve-stream.js'
import { statusOf } from './status.js'

/** Settings of {@link createEventsRoute}. */
export interface EventsRouteOptions {
  readonly hub: Hub
  readonly security: Security
  readonly onError: (error: unknown) => void
  /** Channels and patterns of a request. @defaultValue every `channel` parameter, else `sse` */
  readonly channels?: (url: URL) => readonly string[]
}

/** Any base will do: only the path and query of the request target are read. */
const BASE = 'http://localhost'

function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', BASE)
  } catch {
    return new URL(BASE)
  }
}

function defaultChannels(url: URL): readonly string[] {
  const channels = url.searchParams.getAll('channel')
  return channels.length === 0 ? [DEFAULT_CHANNEL] : channels
}

/**
 * Creates the `GET /events` handler: the connection limits (global and per address, before
 * anything costly), the token, the channels (validated, then authorised), the per-subject
 * limit, and then the stream, which carries the token's read filter and ends when the token
 * expires. Every refusal is a JSON error answered before anything is streamed.
 */
export function createEventsRoute(
  options: EventsRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { hub, security, onError } = options
  const { authenticator } = security
  const pick = options.channels ?? defaultChannels
  return async (req, res) => {
    let slot: StreamSlot | undefined
    try {
      if (hub.closed) throw new SseError('SSE_ERR_HUB_CLOSED', 'the hub is closed')
      // The address string is the socket's (its cached peer name): the slot keeps no copy of its own.
      const address = security.clientAddressOf(req)
      slot = security.connections.acquire(addressKey(address), address)
      const url = requestUrl(req)
      const principal = await authenticator.authenticate(req, url)
      authenticator.require(principal, 'subscribe')
      const channels = validateSelectors(pick(url), security.selectorLimits)
      for (const selector of channels) {
        if (isPattern(selector) && selector.length > security.maxPatternLength) {
          throw new SseError(
            'SSE_ERR_PATTERN_INVALID',
            `pattern is longer than ${security.maxPatternLength} characters`,
            { field: 'channel' },
          )
        }
      }
      authenticator.authorizeSubscribe(principal, channels)
      if (principal?.subject !== undefined) slot.claimSubject(principal.subject)
      if (req.method === 'HEAD') {
        slot.release()
        res.writeHead(200, sseHeaders({ http2: req.httpVersionMajor >= 2 })).end()
        return
      }
      const stream = {
        channels,
        lastEventId: lastEventIdOf(req, url) ?? '',
        canRead: authenticator.readFilter(principal, channels),
        expiresAt: principal?.expiresAt,
        // The slot is the session's info (address, subject): the limiter's observer releases it
        // when the session closes, so the stream needs no `onClose` closure (issue 7).
        info: slot,
      }
      serveEventStream(hub, req, res, stream)
    } catch (error) {
      slot?.release()
      answer(res, error, onError)
    }
  }
}

function answer(res: ServerResponse, error: unknown, onError: (error: unknown) => void): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (isSseError(error) || isHubError(error)) {
    const status = statusOf(error)
    const headers = refusalHeaders(error)
    if (status === 503 && headers['retry-after'] === undefined) headers['retry-after'] = '5'
    sendError(res, status, error.code, error.message, { field: error.field, headers })
    return
  }
  onError(error)
  sendError(res, 500, 'SSE_ERR_SERVER_INTERNAL', 'internal error')
}
