import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Hub } from '@ssehub/core'
import { sendError } from './respond.js'

/** `Retry-After` of a stream refused while the broker is unreachable, in seconds. */
export const BROKER_RETRY_AFTER_S = 2

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/**
 * Guards `GET /events`: while the broker is `degraded` (Redis unreachable), a new stream could
 * not replay its history, so it is refused before anything is streamed: 503
 * `SSE_ERR_BROKER_UNAVAILABLE` with `Retry-After` (`@ssehub/client` retries after it; a
 * browser's `EventSource` gives up on any status but 200, as it does for every refusal). Open
 * streams are not affected. A stream that passes the check while the broker fails an instant
 * later starts with 200 and then ends when its replay fails; every client reconnects from there.
 */
export function guardBroker(hub: Hub, handler: Handler): Handler {
  return (req, res) => {
    if (hub.broker.state() !== 'degraded') return handler(req, res)
    sendError(res, 503, 'SSE_ERR_BROKER_UNAVAILABLE', 'the broker is unavailable; retry later', {
      headers: { 'retry-after': String(BROKER_RETRY_AFTER_S) },
    })
  }
}
