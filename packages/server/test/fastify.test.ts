/**
 * The Fastify adapter beyond the conformance suite: the plugin and its decorators, encapsulation,
 * hooks of the route's context, errors answered through Fastify, and `app.close()`.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, ssehubPlugin } from '@ssehub/server/fastify'
import { openSse, type SseStream, waitFor, withTimeout } from '@ssehub/testkit'
import Fastify, { type FastifyInstance } from 'fastify'

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

async function listen(app: FastifyInstance): Promise<string> {
  await withTimeout(app.listen({ port: 0, host: '127.0.0.1' }), 2000, 'listen')
  cleanups.push(() => app.close())
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function sse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await openSse(url, { headers, timeoutMs: 2000 })
  cleanups.push(() => stream.close())
  return stream
}

describe('@ssehub/server/fastify', () => {
  it('decorates replies in the context that registers the plugin and its children, not in its siblings', async () => {
    const hub = hubOf()
    const app = Fastify({ forceCloseConnections: true })
    const seen: Record<string, string> = {}
    await app.register(async (scoped) => {
      await scoped.register(ssehubPlugin, { hub })
      scoped.get('/scoped/events', (_request, reply) => {
        reply.sseSubscribe({ channels: ['news'] })
      })
      await scoped.register(async (child) => {
        child.get('/scoped/child', (_request, reply) => {
          seen.child = typeof reply.sseSubscribe
          return 'ok'
        })
      })
    })
    await app.register(async (sibling) => {
      sibling.get('/sibling', (_request, reply) => {
        seen.sibling = typeof reply.sseSubscribe
        return 'ok'
      })
    })
    const origin = await listen(app)
    assert.equal(app.hasReplyDecorator('sseSubscribe'), false, 'the root context is untouched')
    await withTimeout(fetch(`${origin}/scoped/child`), 2000, 'child')
    await withTimeout(fetch(`${origin}/sibling`), 2000, 'sibling')
    assert.deepEqual(seen, { child: 'function', sibling: 'undefined' })
    const stream = await sse(`${origin}/scoped/events`)
    await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
    await withTimeout(hub.publish('news', 'scoped'), 1000, 'publish')
    assert.equal((await stream.waitForEvents(1, 2000))[0]?.data, 'scoped')
  })

  it('runs the hooks of its context: onRequest can refuse, and headers set with reply.header() go out with the stream', async () => {
    const hub = hubOf()
    const app = Fastify({ forceCloseConnections: true })
    await app.register(ssehubPlugin, { hub })
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.authorization !== 'Bearer letmein') {
        await reply.code(401).send({ error: 'unauthorized' })
        return reply
      }
      reply.header('access-control-allow-origin', 'https://app.example')
      reply.header('x-request-id', request.id)
    })
    app.get('/events', (_request, reply) => {
      reply.sseSubscribe({ channels: ['private'] })
    })
    const origin = await listen(app)
    const refused = await withTimeout(fetch(`${origin}/events`), 2000, 'refused')
    assert.equal(refused.status, 401)
    assert.equal(hub.stats().sessions, 0)
    const stream = await sse(`${origin}/events`, { authorization: 'Bearer letmein' })
    assert.equal(stream.status, 200)
    assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(stream.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.ok(stream.headers.get('x-request-id'))
    await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
    await withTimeout(hub.publish('private', 'for you'), 1000, 'publish')
    assert.equal((await stream.waitForEvents(1, 2000))[0]?.data, 'for you')
  })

  it('answers an invalid channel through Fastify, so its hooks see the 400', async () => {
    const hub = hubOf()
    const app = Fastify({ forceCloseConnections: true })
    const sent: number[] = []
    app.addHook('onSend', async (_request, reply, payload) => {
      sent.push(reply.statusCode)
      return payload
    })
    app.get('/events', createSseHandler(hub))
    await app.register(ssehubPlugin, { hub })
    app.get('/decorated', (_request, reply) => {
      reply.sseSubscribe({ channels: ['a**'] })
    })
    const origin = await listen(app)
    const answer = await withTimeout(
      fetch(`${origin}/events?channel=${encodeURIComponent('a*b')}`),
      2000,
      'GET',
    )
    assert.equal(answer.status, 400)
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(
      ((await withTimeout(answer.json(), 2000, 'body')) as { error: { code: string } }).error.code,
      'SSE_ERR_CHANNEL_INVALID',
    )
    // A decorator's SseError goes to Fastify's error handler, as any thrown error does.
    const decorated = await withTimeout(fetch(`${origin}/decorated`), 2000, 'GET')
    assert.equal(decorated.status, 500)
    assert.deepEqual(sent, [400, 500])
    assert.equal(hub.stats().sessions, 0)
  })

  it('streams a per-request iterable with reply.sseStream()', async () => {
    const app = Fastify({ forceCloseConnections: true })
    await app.register(ssehubPlugin)
    let cleaned = false
    app.get('/countdown', (_request, reply) =>
      reply.sseStream(async function* () {
        try {
          for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
        } finally {
          cleaned = true
        }
      }),
    )
    const origin = await listen(app)
    const stream = await sse(`${origin}/countdown`)
    await stream.waitForEnd(2000)
    assert.deepEqual(
      stream.events.map((event) => [event.type, event.id, event.data]),
      [
        ['tick', '3', '{"n":3}'],
        ['tick', '2', '{"n":2}'],
        ['tick', '1', '{"n":1}'],
      ],
    )
    assert.equal(cleaned, true)
  })

  it('ends the streams opened through the plugin when the app closes, so close() does not hang', async () => {
    const hub = hubOf()
    const app = Fastify()
    await app.register(ssehubPlugin, { hub })
    app.get('/events', (_request, reply) => {
      reply.sseSubscribe({ channels: ['news'] })
    })
    app.get('/forever', (_request, reply) =>
      reply.sseStream(async function* ({ signal }) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      }),
    )
    await withTimeout(app.listen({ port: 0, host: '127.0.0.1' }), 2000, 'listen')
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const subscribed = await sse(`${origin}/events`)
    const forever = await sse(`${origin}/forever`)
    await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
    await withTimeout(app.close(), 2000, 'app.close()')
    await subscribed.waitForEnd(2000)
    await forever.waitForEnd(2000)
    assert.equal(hub.stats().sessions, 0)
    assert.equal(hub.closed, false, 'the hub is the application’s')
  })

  it('refuses reply.sseSubscribe() with a clear message when the plugin has no hub', async () => {
    const app = Fastify({ forceCloseConnections: true })
    await app.register(ssehubPlugin)
    app.get('/events', (_request, reply) => {
      reply.sseSubscribe({ channels: ['news'] })
    })
    const origin = await listen(app)
    const answer = await withTimeout(fetch(`${origin}/events`), 2000, 'GET')
    assert.equal(answer.status, 500)
    assert.match(
      ((await withTimeout(answer.json(), 2000, 'body')) as { message: string }).message,
      /register\(ssehubPlugin, \{ hub \}\)/,
    )
  })
})
