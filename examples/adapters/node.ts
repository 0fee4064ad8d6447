/**
 * `@ssehub/server/node` on a bare `node:http` server: hub channels at `/events?channel=...`, a
 * per-request async generator at `/countdown`. Run: `npx tsx --conditions=@ssehub/source examples/adapters/node.ts`.
 */

import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, streamEvents } from '@ssehub/server/node'

export function createApp(hub: Hub): Server {
  const events = createSseHandler(hub) // GET /events?channel=a&channel=b, resumes from Last-Event-ID
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (path === '/events') return events(req, res)
    if (path === '/countdown') {
      void streamEvents(req, res, async function* ({ signal }) {
        for (let n = 3; n > 0 && !signal.aborted; n--) {
          yield sseEvent({ event: 'tick', id: String(n), data: { n } })
          await sleep(100, undefined, { signal }).catch(() => {})
        }
      })
      return
    }
    res.writeHead(404).end()
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hub = createHub()
  createApp(hub).listen(3001, () => console.log('http://localhost:3001/events?channel=clock'))
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
