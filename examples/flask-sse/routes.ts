import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Router } from 'express'
import { createHubServer } from 'ssehub'
import type { Demo, DemoContext } from '../lib/demo.js'

/**
 * The hub's own HTTP API (the `ssehub serve` server, `createHubServer`), mounted under `/hub`:
 * `POST /hub/publish` takes Flask-SSE's `publish(data, type, id, retry, channel)` fields as JSON or
 * as a form, `GET /hub/events?channel=...` streams. Mount it before any body parser: the hub reads
 * its own bodies, within its own size limit.
 */
export function mountFlaskSse(app: Router, { tickMs }: DemoContext): Demo {
  const hubServer = createHubServer({ demo: false, retryMs: tickMs })
  // The hub server's request handler, without its own listening socket: Express strips `/hub`.
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    hubServer.server.emit('request', req, res)
  }
  app.use('/hub', handle)
  return { close: () => hubServer.close() }
}
