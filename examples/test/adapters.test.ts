/**
 * Runs the adapter examples of docs/adapters.md (examples/adapters/*.ts) on port 0 and checks what
 * the docs say they do: hub channels from the query (or the route), a per-request countdown.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect, type Http2SecureServer, type Http2Server, type Http2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { getRequestListener } from '@hono/node-server'
import { createHub, type Hub } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { openSse, waitFor, withTimeout, writeSelfSignedCertificate } from '@ssehub/testkit'
import { createApp as createExpressApp } from '../adapters/express.js'
import { createApp as createFastifyApp } from '../adapters/fastify.js'
import { createFetchHandler } from '../adapters/fetch.js'
import { createApp as createHonoApp } from '../adapters/hono.js'
import { createApp as createHttp2App } from '../adapters/http2.js'
import { createApp as createNodeApp } from '../adapters/node.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

function hubOf(): Hub {
  const hub = createHub({ heartbeatMs: false })
  cleanups.push(() => hub.close())
  return hub
}

async function listen(server: Server | Http2Server | Http2SecureServer): Promise<number> {
  const sessions = new Set<Http2Session>()
  server.on('session', (session: Http2Session) => sessions.add(session))
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections()
        for (const session of sessions) session.destroy()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

/** Subscribes to `path`, publishes to `channel` once subscribed, and checks the event arrives. */
async function roundTrip(hub: Hub, origin: string, path: string, channel: string): Promise<void> {
  const stream = await openSse(`${origin}${path}`, { timeoutMs: 2000 })
  cleanups.push(() => stream.close())
  assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  await waitFor(() => hub.subscriberCount(channel) === 1, 2000, `a subscriber on ${channel}`)
  const id = await withTimeout(hub.publish(channel, { hello: channel }), 1000, 'publish')
  const [event] = await stream.waitForEvents(1, 2000)
  assert.deepEqual(event, { type: 'message', data: JSON.stringify({ hello: channel }), lastEventId: id, id })
}

async function countdown(origin: string): Promise<void> {
  const stream = await openSse(`${origin}/countdown`, { timeoutMs: 2000 })
  cleanups.push(() => stream.close())
  await stream.waitForEnd(3000)
  assert.deepEqual(
    stream.events.map((event) => [event.type, event.id, event.data]),
    [
      ['tick', '3', '{"n":3}'],
      ['tick', '2', '{"n":2}'],
      ['tick', '1', '{"n":1}'],
    ],
  )
}

describe('the adapter examples', () => {
  it('node:http serves hub channels and a countdown', async () => {
    const hub = hubOf()
    const origin = `http://127.0.0.1:${await listen(createNodeApp(hub))}`
    await roundTrip(hub, origin, '/events?channel=clock', 'clock')
    await countdown(origin)
  })

  it('Express serves hub channels from the query and the route behind compression, and a countdown', async () => {
    const hub = hubOf()
    const origin = `http://127.0.0.1:${await listen(createServer(createExpressApp(hub)))}`
    await roundTrip(hub, origin, '/events?channel=clock', 'clock')
    await roundTrip(hub, origin, '/rooms/lobby/events', 'room/lobby')
    await countdown(origin)
  })

  it('Fastify serves hub channels through the plugin, and a countdown', async () => {
    const hub = hubOf()
    const app = await createFastifyApp(hub)
    await withTimeout(app.listen({ port: 0, host: '127.0.0.1' }), 2000, 'listen')
    cleanups.push(() => app.close())
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    await roundTrip(hub, origin, '/events?channel=clock', 'clock')
    await roundTrip(hub, origin, '/rooms/lobby/events', 'room/lobby')
    await countdown(origin)
  })

  it('the Fetch handler serves hub channels and a countdown (on Node through @hono/node-server)', async () => {
    const hub = hubOf()
    const origin = `http://127.0.0.1:${await listen(createServer(getRequestListener(createFetchHandler(hub))))}`
    await roundTrip(hub, origin, '/events?channel=clock', 'clock')
    await countdown(origin)
  })

  it('Hono serves hub channels with CORS headers, and a countdown', async () => {
    const hub = hubOf()
    const origin = `http://127.0.0.1:${await listen(createServer(getRequestListener(createHonoApp(hub).fetch)))}`
    await roundTrip(hub, origin, '/rooms/lobby/events', 'room/lobby')
    const stream = await openSse(`${origin}/events?channel=x`, { headers: { origin: 'https://app.example' } })
    cleanups.push(() => stream.close())
    assert.equal(stream.headers.get('access-control-allow-origin'), 'https://app.example')
    await countdown(origin)
  })

  it('node:http2 serves hub channels over h2c and over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssehub-example-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const tls = writeSelfSignedCertificate(dir)
    for (const [scheme, certificate] of [
      ['http', undefined],
      ['https', tls],
    ] as const) {
      const hub = hubOf()
      const port = await listen(createHttp2App(hub, certificate))
      const session = connect(`${scheme}://127.0.0.1:${port}`, { rejectUnauthorized: false })
      session.on('error', () => {})
      cleanups.push(() => session.destroy())
      const events: ParsedEvent[] = []
      const parser = createParser({ onEvent: (event) => events.push(event) })
      let status = 0
      const stream = session.request({ ':path': '/events?channel=clock' })
      stream.on('response', (headers) => {
        status = Number(headers[':status'])
      })
      stream.on('data', (chunk: Buffer) => parser.feed(chunk))
      await waitFor(() => status === 200 && hub.subscriberCount('clock') === 1, 2000, `${scheme}: subscribed`)
      await withTimeout(hub.publish('clock', 'tick'), 1000, 'publish')
      await waitFor(() => events.length === 1, 2000, `${scheme}: the event`)
      assert.equal(events[0]?.data, 'tick')
    }
  })
})
