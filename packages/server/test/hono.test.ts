/**
 * The Hono helpers, through Hono's own request pipeline (`app.request()`): middleware headers are
 * kept, channels can come from route parameters, errors and `HEAD` are answered as elsewhere.
 */
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { createHub, type Hub } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { createSseHandler, serveSse, sseEvent, streamEvents } from '@ssehub/server/hono'
import { waitFor, withTimeout } from '@ssehub/testkit'
import { Hono } from 'hono'
import { cors } from 'hono/cors'

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

function read(response: Response): { events: ParsedEvent[]; cancel: () => Promise<void> } {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const body = response.body?.getReader()
  assert.ok(body)
  void (async () => {
    for (;;) {
      const chunk = await body.read().catch(() => ({ done: true as const, value: undefined }))
      if (chunk.done) return
      parser.feed(chunk.value)
    }
  })()
  const cancel = () => body.cancel().catch(() => {})
  cleanups.push(cancel)
  return { events, cancel }
}

describe('@ssehub/server/hono', () => {
  it('keeps the headers of earlier middleware (hono/cors) on the event stream', async () => {
    const hub = hubOf()
    const app = new Hono()
    app.use('*', cors({ origin: 'https://app.example' }))
    app.get('/events', createSseHandler(hub))
    const response = await withTimeout(
      Promise.resolve(app.request('/events?channel=news', { headers: { origin: 'https://app.example' } })),
      1000,
      'request',
    )
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    const stream = read(response)
    await withTimeout(hub.publish('news', 'with cors'), 1000, 'publish')
    await waitFor(() => stream.events.length === 1, 1000, 'the event')
    await stream.cancel()
    await waitFor(() => hub.stats().sessions === 0, 1000, 'the session freed by the cancel')
  })

  it('subscribes to channels named by route parameters', async () => {
    const hub = hubOf()
    const app = new Hono()
    app.get('/rooms/:id/events', (c) => serveSse(c, hub, { channels: [`room/${c.req.param('id')}`] }))
    app.get('/users/:id/events', createSseHandler(hub, { channels: (c) => [`user/${c.req.param('id')}`] }))
    const room = read(await withTimeout(Promise.resolve(app.request('/rooms/7/events')), 1000, 'room'))
    const user = read(await withTimeout(Promise.resolve(app.request('/users/ada/events')), 1000, 'user'))
    await withTimeout(hub.publish('room/7', 'to the room'), 1000, 'publish')
    await withTimeout(hub.publish('user/ada', 'to ada'), 1000, 'publish')
    await waitFor(() => room.events.length === 1 && user.events.length === 1, 1000, 'both events')
    assert.deepEqual([room.events[0]?.data, user.events[0]?.data], ['to the room', 'to ada'])
  })

  it('streams an iterable from a route and answers errors and HEAD like every adapter', async () => {
    const hub = hubOf()
    const app = new Hono()
    app.get('/countdown', (c) =>
      streamEvents(
        c,
        async function* () {
          for (let n = 2; n > 0; n--) yield sseEvent({ event: 'tick', data: { n } })
        },
        { retryMs: false },
      ),
    )
    app.on(['GET', 'HEAD'], '/events', createSseHandler(hub))
    const text = await withTimeout(
      Promise.resolve(app.request('/countdown')).then((response) => response.text()),
      1000,
      'body',
    )
    assert.equal(text, 'event: tick\ndata: {"n":2}\n\nevent: tick\ndata: {"n":1}\n\n')
    const invalid = await withTimeout(Promise.resolve(app.request('/events?channel=a**')), 1000, 'invalid')
    assert.equal(invalid.status, 400)
    assert.equal(
      ((await withTimeout(invalid.json(), 2000, 'body')) as { error: { code: string } }).error.code,
      'SSE_ERR_PATTERN_INVALID',
    )
    const head = await withTimeout(Promise.resolve(app.request('/events', { method: 'HEAD' })), 1000, 'HEAD')
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(hub.stats().sessions, 0)
  })
})
