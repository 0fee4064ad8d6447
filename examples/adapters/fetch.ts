/**
 * `@ssehub/server/fetch`: a `Request → Response` handler, as Bun, Deno and workers runtimes serve
 * it (`export default { fetch }`, `Deno.serve(fetch)`, `Bun.serve({ fetch })`). On Node it runs
 * through `@hono/node-server`. Run: `npx tsx --conditions=@ssehub/source examples/adapters/fetch.ts`.
 */
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, streamEvents } from '@ssehub/server/fetch'

export function createFetchHandler(hub: Hub): (request: Request) => Response {
  const events = createSseHandler(hub) // ?channel=a&channel=b, resumes from Last-Event-ID
  return (request) => {
    const { pathname } = new URL(request.url)
    if (pathname === '/events') return events(request)
    if (pathname === '/countdown') {
      return streamEvents(request, async function* () {
        for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
      })
    }
    return new Response('not found', { status: 404 })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hub = createHub()
  serve({ fetch: createFetchHandler(hub), port: 3004 })
  console.log('http://localhost:3004/events?channel=clock')
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
