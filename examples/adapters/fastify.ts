/**
 * `@ssehub/server/fastify`: the plugin decorates replies with `sseSubscribe()` and `sseStream()`.
 * Run: `npx tsx --conditions=@ssehub/source examples/adapters/fastify.ts`.
 */
import { fileURLToPath } from 'node:url'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, ssehubPlugin } from '@ssehub/server/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

export async function createApp(hub: Hub): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(ssehubPlugin, { hub })
  app.get('/events', createSseHandler(hub)) // ?channel=a&channel=b
  app.get<{ Params: { room: string } }>('/rooms/:room/events', (request, reply) => {
    reply.sseSubscribe({ channels: [`room/${request.params.room}`] })
  })
  app.get('/countdown', (_request, reply) =>
    reply.sseStream(async function* () {
      for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
    }),
  )
  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hub = createHub()
  const app = await createApp(hub)
  await app.listen({ port: 3003 })
  console.log('http://localhost:3003/events?channel=clock')
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
