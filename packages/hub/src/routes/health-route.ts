import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BrokerState, Hub } from '@ssehub/core'
import { sendJson } from '../respond.js'

/** The body of `GET /healthz` (liveness). */
export interface HealthBody {
  /** Always `ok`: the process answers. */
  status: 'ok'
  broker: BrokerState
  /** Open event streams on this hub. */
  sessions: number
  /** True while the hub drains before it stops (and once it has stopped). */
  draining: boolean
}

/** The body of `GET /readyz` (readiness). */
export interface ReadinessBody {
  /** `ready` (200) when the broker is `ready` and the hub is not draining; else `unready` (503). */
  status: 'ready' | 'unready'
  broker: BrokerState
  /** True while the hub drains before it stops (and once it has stopped). */
  draining: boolean
  /** Open event streams on this hub. */
  sessions: number
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * Creates the `GET /healthz` handler, the liveness probe: 200 for as long as the process serves
 * requests, whatever the broker (restarting the process would not bring Redis back). The body
 * tells the broker state, the open streams and whether the hub drains, for information.
 */
export function createHealthRoute(hub: Hub, draining: () => boolean): Handler {
  return (_req, res) => {
    const body: HealthBody = {
      status: 'ok',
      broker: hub.broker.state(),
      sessions: hub.stats().sessions,
      draining: draining() || hub.closed,
    }
    sendJson(res, 200, body)
  }
}

/**
 * Creates the `GET /readyz` handler, the readiness probe: 200 when the broker is `ready` and the
 * hub neither drains nor is closed, else 503 with the reason in the body. A load balancer then
 * sends new clients to another node; open streams are not affected.
 */
export function createReadinessRoute(hub: Hub, draining: () => boolean): Handler {
  return (_req, res) => {
    const broker = hub.broker.state()
    const stopping = draining() || hub.closed
    const ready = broker === 'ready' && !stopping
    const body: ReadinessBody = {
      status: ready ? 'ready' : 'unready',
      broker,
      draining: stopping,
      sessions: hub.stats().sessions,
    }
    sendJson(res, ready ? 200 : 503, body)
  }
}
