import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BrokerState, Hub } from '@ssehub/core'
import { sendJson } from '../respond.js'

/** The body of `GET /healthz`. */
export interface HealthBody {
  status: 'ok' | 'unavailable'
  broker: BrokerState
  /** Open event streams on this hub. */
  sessions: number
}

/**
 * Creates the `GET /healthz` handler: 200 when the broker is ready and the hub open, else 503
 * (a load balancer then stops routing new clients here).
 */
export function createHealthRoute(hub: Hub): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const broker = hub.broker.state()
    const ok = broker === 'ready' && !hub.closed
    const body: HealthBody = { status: ok ? 'ok' : 'unavailable', broker, sessions: hub.stats().sessions }
    sendJson(res, ok ? 200 : 503, body)
  }
}
