/**
 * `@ssehub/server/express` (Express 4 or 5) next to the `compression` middleware: events still go
 * out one by one, at once. Run: `npx tsx --conditions=@ssehub/source examples/adapters/express.ts`.
 */
import { fileURLToPath } from 'node:url'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, streamEvents } from '@ssehub/server/express'
import compression from 'compression'
import express, { type Express, type Request } from 'express'

export function createApp(hub: Hub): Express {
  const app = express()
  app.use(compression())
  app.get('/events', createSseHandler(hub))
  // Channels from the route instead of the query.
  app.get(
    '/rooms/:room/events',
    createSseHandler(hub, { channels: (req) => [`room/${(req as Request).params.room}`] }),
  )
  app.get('/countdown', (req, res) => {
    void streamEvents(req, res, async function* () {
      for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
    })
  })
  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hub = createHub()
  createApp(hub).listen(3002, () => console.log('http://localhost:3002/events?channel=clock'))
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
