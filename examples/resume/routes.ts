import type { ServerResponse } from 'node:http'
import { serveSse } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'

const CHANNEL = 'resume/numbers'

/**
 * A hub channel with a number published four times a tick (hub-assigned ids), `GET /resume/events` to
 * stream it, and `POST /resume/drop?client=...` to cut one page's connection, as a network failure
 * would. The browser reconnects by itself with `Last-Event-ID`, and the hub replays exactly the
 * numbers published while it was away.
 */
export function mountResume(app: Router, { hub, tickMs }: DemoContext): Demo {
  let n = 0
  // Four a tick: during the second a reconnect takes (the hub's `retry: 1000`) a few are missed.
  const timer = setInterval(() => {
    n++
    hub.publish(CHANNEL, { n, at: Date.now() }).catch(() => {})
  }, tickMs / 4)
  /** The open response of each page, by the page's random client id. */
  const pages = new Map<string, ServerResponse>()

  app.get('/resume/events', (req, res) => {
    const client = typeof req.query.client === 'string' ? req.query.client.slice(0, 64) : ''
    serveSse(hub, req, res, {
      channels: [CHANNEL],
      onClose: () => {
        if (pages.get(client) === res) pages.delete(client)
      },
    })
    if (client !== '') pages.set(client, res)
  })

  app.post('/resume/drop', (req, res) => {
    const page = pages.get(String(req.query.client))
    if (page === undefined) {
      res.status(404).json({ error: { code: 'NOT_CONNECTED', message: 'no open stream for this client' } })
      return
    }
    // Not a polite end of the stream: the TCP connection is cut, as when Wi-Fi drops.
    page.destroy()
    res.status(204).end()
  })

  return { close: () => clearInterval(timer) }
}
