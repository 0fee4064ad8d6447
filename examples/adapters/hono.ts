/**
 * `@ssehub/server/hono`: handlers for Hono, on any runtime Hono runs on (here Node, through
 * `@hono/node-server`). Run: `npx tsx --conditions=@ssehub/source examples/adapters/hono.ts`.
 */
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, serveSse, sseEvent, streamEvents } from '@ssehub/server/hono'
import { Hono } from 'hono'
import { cors } from 'hono/cors'

export function createApp(hub: Hub): Hono {
  const app = new Hono()
  app.use('*', cors({ origin: 'https://app.example' })) // its headers reach the event streams too
  app.get('/events', createSseHandler(hub))
  app.get('/rooms/:room/events', (c) => serveSse(c, hub, { channels: [`room/${c.req.param('room')}`] }))
  app.get('/countdown', (c) =>
    streamEvents(c, async function* () {
      for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
    }),
  )
  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hub = createHub()
  serve({ fetch: createApp(hub).fetch, port: 3005 })
  console.log('http://localhost:3005/events?channel=clock')
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
