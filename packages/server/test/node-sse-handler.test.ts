import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import {
  type CloseReason,
  createHub,
  type Hub,
  type HubOptions,
  isSseError,
  type Session,
  SseError,
} from '@ssehub/core'
import { createNodeSink, createSseHandler, lastEventIdOf, serveSse } from '@ssehub/server/node'
import { openSse, type SseStream, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { nextTurn, type RawSse, rawSse, startServer, type TestServer } from './node-fixtures.js'

/** Everything a test opened, closed after it whatever happened. */
const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

async function hubServer(
  hubOptions: HubOptions = {},
  handlerOptions: Parameters<typeof createSseHandler>[1] = {},
): Promise<{ hub: Hub; http: TestServer }> {
  const hub = createHub(hubOptions)
  const http = await startServer(createSseHandler(hub, handlerOptions))
  cleanups.push(
    () => hub.close(),
    () => http.close(),
  )
  return { hub, http }
}

async function sse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await openSse(url, { headers, timeoutMs: 2000 })
  cleanups.push(() => stream.close())
  return stream
}

async function raw(port: number, path: string, options: Parameters<typeof rawSse>[2] = {}): Promise<RawSse> {
  const client = await rawSse(port, path, options)
  cleanups.push(() => client.close())
  return client
}

/** Resolves when `hub` has exactly `count` sessions (a connection is counted once connected). */
function sessions(hub: Hub, count: number, ms = 2000): Promise<void> {
  return waitFor(() => hub.stats().sessions === count, ms, `${count} sessions`)
}

describe('createSseHandler on node:http', () => {
  it('writes exactly the event-stream head of WIRE.md and flushes it before any event', async () => {
    const { port } = (await hubServer({ retryMs: false, heartbeatMs: false })).http
    const client = await raw(port, '/events?channel=news')
    await client.until(() => client.head !== '', 2000, 'the head, with nothing published')
    assert.match(client.head, /^HTTP\/1\.1 200 OK\r\n/)
    assert.equal(client.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(client.headers.get('cache-control'), 'no-cache, no-transform')
    assert.equal(client.headers.get('x-accel-buffering'), 'no')
    assert.equal(client.headers.get('connection'), 'keep-alive')
    assert.equal(client.headers.get('transfer-encoding'), 'chunked')
    assert.equal(client.headers.has('content-length'), false)
    assert.equal(client.headers.has('content-encoding'), false)
    // Nothing but control records (the hub's cursor): no event was sent, yet the head arrived.
    assert.equal(client.events.length, 0)
    assert.doesNotMatch(client.body, /data:/)
  })

  it('sends the retry hint before anything else', async () => {
    const { port } = (await hubServer({ retryMs: 3000, heartbeatMs: false })).http
    const client = await raw(port, '/events')
    await client.until(() => client.retries.length > 0, 2000, 'retry hint')
    assert.deepEqual(client.retries, [3000])
    assert.ok(client.body.startsWith('retry: 3000\n\n'), client.body)
  })

  it('adds custom headers to the event-stream head', async () => {
    const { http } = await hubServer(
      {},
      { headers: { 'access-control-allow-origin': 'https://app.example' } },
    )
    const stream = await sse(`${http.origin}/events`)
    assert.equal(stream.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  })

  it('delivers a published event at once, without buffering', async () => {
    const { hub, http } = await hubServer({ heartbeatMs: false })
    const client = await raw(http.port, '/events?channel=news')
    await sessions(hub, 1)
    await client.until(() => client.retries.length === 1, 2000, 'retry hint')
    const id = await withTimeout(
      hub.publish('news', { title: 'hello' }, { event: 'headline' }),
      1000,
      'publish',
    )
    // A single small event, nothing after it: it must not wait for more data or a timer.
    await client.until(() => client.events.length === 1, 500, 'the event')
    assert.deepEqual(client.events[0], { type: 'headline', data: '{"title":"hello"}', lastEventId: id, id })
    assert.ok(client.body.endsWith(`event: headline\nid: ${id}\ndata: {"title":"hello"}\n\n`))
  })

  it('subscribes to the channel query parameters, or to `sse` when there are none', async () => {
    const { hub, http } = await hubServer()
    const named = await sse(`${http.origin}/events?channel=a&channel=b`)
    const unnamed = await sse(`${http.origin}/events`)
    await sessions(hub, 2)
    for (const channel of ['a', 'other', 'sse', 'b']) {
      await withTimeout(hub.publish(channel, channel), 1000, 'publish')
    }
    const namedEvents = await named.waitForEvents(2, 2000)
    const unnamedEvents = await unnamed.waitForEvents(1, 2000)
    assert.deepEqual(
      namedEvents.map((event) => event.data),
      ['a', 'b'],
    )
    assert.deepEqual(
      unnamedEvents.map((event) => event.data),
      ['sse'],
    )
    await withTimeout(hub.publish('a', 'last'), 1000, 'publish')
    await named.waitForEvents(3, 2000)
    assert.equal(unnamed.events.length, 1)
  })

  it('subscribes to trailing-* patterns', async () => {
    const { hub, http } = await hubServer()
    const stream = await sse(`${http.origin}/events?channel=${encodeURIComponent('tasks/*')}`)
    await sessions(hub, 1)
    for (const channel of ['tasks/1', 'other', 'tasks/x/y', 'tasks']) {
      await withTimeout(hub.publish(channel, channel), 1000, 'publish')
    }
    await withTimeout(hub.publish('tasks/end', 'end'), 1000, 'publish')
    const events = await stream.waitForEvents(3, 2000)
    assert.deepEqual(
      events.map((event) => event.data),
      ['tasks/1', 'tasks/x/y', 'end'],
    )
  })

  it('resumes after the Last-Event-ID header with exactly the events that followed', async () => {
    const { hub, http } = await hubServer()
    const ids: string[] = []
    for (let n = 1; n <= 5; n++)
      ids.push(await withTimeout(hub.publish('news', `event ${n}`), 1000, 'publish'))
    const stream = await sse(`${http.origin}/events?channel=news`, { 'last-event-id': ids[1] as string })
    await stream.waitForEvents(3, 2000)
    // A live marker: anything replayed in excess would arrive before it.
    await sessions(hub, 1)
    await withTimeout(hub.publish('news', 'live'), 1000, 'publish')
    const events = await stream.waitForEvents(4, 2000)
    await sleep(50)
    assert.deepEqual(
      stream.events.map((event) => event.data),
      ['event 3', 'event 4', 'event 5', 'live'],
    )
    assert.deepEqual(
      events.slice(0, 3).map((event) => event.id),
      ids.slice(2),
    )
  })

  it('resumes after the lastEventId query parameter on a first connection', async () => {
    const { hub, http } = await hubServer()
    const ids: string[] = []
    for (let n = 1; n <= 5; n++)
      ids.push(await withTimeout(hub.publish('news', `event ${n}`), 1000, 'publish'))
    const stream = await sse(
      `${http.origin}/events?channel=news&lastEventId=${encodeURIComponent(ids[1] as string)}`,
    )
    await stream.waitForEvents(3, 2000)
    await sessions(hub, 1)
    await withTimeout(hub.publish('news', 'live'), 1000, 'publish')
    await stream.waitForEvents(4, 2000)
    await sleep(50)
    assert.deepEqual(
      stream.events.map((event) => event.data),
      ['event 3', 'event 4', 'event 5', 'live'],
    )
  })

  it('answers 400 JSON with the code and field for an invalid channel, and streams nothing', async () => {
    const { hub, http } = await hubServer()
    for (const [query, code] of [
      ['channel=', 'SSE_ERR_CHANNEL_INVALID'],
      ['channel=a*b', 'SSE_ERR_CHANNEL_INVALID'],
      ['channel=a**', 'SSE_ERR_PATTERN_INVALID'],
      ['channel=a%0Ab', 'SSE_ERR_CHANNEL_INVALID'],
    ] as const) {
      const response = await withTimeout(fetch(`${http.origin}/events?${query}`), 2000, query)
      assert.equal(response.status, 400, query)
      assert.match(response.headers.get('content-type') ?? '', /^application\/json\b/)
      const body = (await withTimeout(response.json(), 2000, 'body')) as {
        error: { code: string; message: string; field?: string }
      }
      assert.equal(body.error.code, code, query)
      assert.equal(body.error.field, 'channel')
      assert.equal(typeof body.error.message, 'string')
    }
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
  })

  it('answers 400 for a Last-Event-ID longer than the hub allows', async () => {
    const { http } = await hubServer({ maxIdLength: 16 })
    const response = await withTimeout(
      fetch(`${http.origin}/events`, { headers: { 'last-event-id': 'x'.repeat(17) } }),
      2000,
      'request',
    )
    assert.equal(response.status, 400)
    const body = (await withTimeout(response.json(), 2000, 'body')) as {
      error: { code: string; field: string }
    }
    assert.deepEqual([body.error.code, body.error.field], ['SSE_ERR_LAST_EVENT_ID_TOO_LONG', 'lastEventId'])
  })

  it('answers 503 with the same JSON shape when the hub is closed', async () => {
    const { hub, http } = await hubServer()
    await withTimeout(hub.close(), 1000, 'hub close')
    const response = await withTimeout(fetch(`${http.origin}/events`), 2000, 'request')
    assert.equal(response.status, 503)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json\b/)
    const body = (await withTimeout(response.json(), 2000, 'body')) as { error: { code: string } }
    assert.equal(body.error.code, 'SSE_ERR_HUB_CLOSED')
    assert.equal(response.headers.get('retry-after'), '5')
    const head = await withTimeout(fetch(`${http.origin}/events`, { method: 'HEAD' }), 2000, 'HEAD')
    assert.equal(head.status, 503)
  })

  it('takes channels from a custom function, whose SseError is answered with 400', async () => {
    const seen: string[] = []
    const { hub, http } = await hubServer(
      {},
      {
        channels: (req, url) => {
          seen.push(`${req.method} ${url.pathname}`)
          const room = url.pathname.split('/')[2] ?? ''
          if (room === '') throw new SseError('SSE_ERR_CHANNEL_INVALID', 'no room', { field: 'channel' })
          return [`room/${room}`]
        },
      },
    )
    const stream = await sse(`${http.origin}/rooms/42`)
    await sessions(hub, 1)
    await withTimeout(hub.publish('room/42', 'hi'), 1000, 'publish')
    assert.equal((await stream.waitForEvents(1, 2000))[0]?.data, 'hi')
    assert.deepEqual(seen, ['GET /rooms/42'])
    const bad = await withTimeout(fetch(`${http.origin}/rooms/`), 2000, 'request')
    assert.equal(bad.status, 400)
    const body = (await withTimeout(bad.json(), 2000, 'body')) as { error: { code: string } }
    assert.equal(body.error.code, 'SSE_ERR_CHANNEL_INVALID')
  })

  it('answers 500 without details for an unexpected error and reports it', async () => {
    const reported: unknown[] = []
    const { http } = await hubServer(
      {},
      {
        channels: () => {
          throw new Error('database password is hunter2')
        },
        onError: (error) => reported.push(error),
      },
    )
    const response = await withTimeout(fetch(`${http.origin}/events`), 2000, 'request')
    assert.equal(response.status, 500)
    const text = await withTimeout(response.text(), 2000, 'body')
    assert.doesNotMatch(text, /hunter2/)
    assert.equal(reported.length, 1)
  })

  it('answers a HEAD request with the head alone', async () => {
    const { hub, http } = await hubServer()
    const response = await withTimeout(fetch(`${http.origin}/events`, { method: 'HEAD' }), 2000, 'HEAD')
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(hub.stats().sessions, 0)
  })

  it('works as a Connect-style route: keeps headers set by earlier middleware and never calls next', async () => {
    const hub = createHub()
    const handler = createSseHandler(hub)
    let nextCalled = false
    // What Express does around a route mounted at /api: headers set by middleware, the mount path
    // stripped from req.url, and a third `next` argument.
    const app = (req: IncomingMessage, res: ServerResponse): void => {
      res.setHeader('x-powered-by', 'Express')
      res.setHeader('access-control-allow-origin', '*')
      req.url = (req.url ?? '/').slice('/api'.length) || '/'
      const route: (req: IncomingMessage, res: ServerResponse, next: () => void) => void = handler
      route(req, res, () => {
        nextCalled = true
      })
    }
    const http = await startServer(app)
    cleanups.push(
      () => hub.close(),
      () => http.close(),
    )
    const stream = await sse(`${http.origin}/api/events?channel=mounted`)
    assert.equal(stream.headers.get('x-powered-by'), 'Express')
    assert.equal(stream.headers.get('access-control-allow-origin'), '*')
    assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    await sessions(hub, 1)
    await withTimeout(hub.publish('mounted', 'ok'), 1000, 'publish')
    assert.equal((await stream.waitForEvents(1, 2000))[0]?.data, 'ok')
    assert.equal(nextCalled, false)
  })

  it('sends heartbeat comments from the hub timer', async () => {
    const { hub, http } = await hubServer({ heartbeatMs: 50 })
    const client = await raw(http.port, '/events')
    await client.until(() => client.comments.length >= 3, 2000, '3 heartbeats')
    assert.ok(client.comments.every((comment) => comment === ''))
    assert.equal(hub.stats().heartbeatTimer, true)
  })

  it('frees the session and its routes when the client disconnects', async () => {
    const { hub, http } = await hubServer()
    const stream = await sse(`${http.origin}/events?channel=a&channel=${encodeURIComponent('b/*')}`)
    await sessions(hub, 1)
    assert.equal(hub.stats().routes, 2)
    stream.close()
    await sessions(hub, 0)
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
  })

  it('leaves no session, route or heartbeat timer after 1,000 connect/disconnect cycles', async () => {
    const { hub, http } = await hubServer({ heartbeatMs: 1000 })
    const batch = 200
    for (let round = 0; round < 1000 / batch; round++) {
      const clients = await withTimeout(
        Promise.all(
          Array.from({ length: batch }, (_, n) =>
            rawSse(http.port, `/events?channel=c${n % 10}&channel=all`),
          ),
        ),
        5000,
        'connect a batch',
      )
      try {
        await withTimeout(
          Promise.all(
            clients.map((client) => client.until(() => client.retries.length === 1, 5000, 'retry')),
          ),
          5000,
          'batch streaming',
        )
      } finally {
        for (const client of clients) client.close()
      }
    }
    await waitFor(() => hub.stats().sessions === 0, 5000, 'every session closed')
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
  })

  it('disconnects a client that stops reading once its queue overflows, while others get every event', async () => {
    const reasons: CloseReason[] = []
    const hub = createHub({ maxQueueBytes: 64 * 1024, heartbeatMs: false })
    const http = await startServer((req, res) => {
      const slow = new URL(req.url ?? '/', 'http://x').searchParams.has('slow')
      serveSse(hub, req, res, {
        channels: ['firehose'],
        ...(slow ? { onClose: (reason: CloseReason) => reasons.push(reason) } : {}),
      })
    })
    cleanups.push(
      () => hub.close(),
      () => http.close(),
    )
    const reader = await sse(`${http.origin}/events`)
    const stalled = await raw(http.port, '/events?slow', { paused: true })
    await sessions(hub, 2)
    // The kernel buffers of a loopback connection hold a few MB before Node sees backpressure,
    // so publish until the stalled session overflows rather than a fixed amount.
    const payload = 'x'.repeat(4096)
    let published = 0
    while (reasons.length === 0 && published < 8192) {
      for (let n = 0; n < 4; n++) {
        await withTimeout(hub.publish('firehose', `${published} ${payload}`), 1000, 'publish')
        published++
      }
      await nextTurn()
    }
    assert.deepEqual(reasons, ['overflow'])
    assert.ok(published * payload.length > 64 * 1024, 'the overflow took more than the queue bound')
    await withTimeout(hub.publish('firehose', 'end'), 1000, 'publish')
    const events = await reader.waitForEvents(published + 1, 10_000)
    assert.deepEqual(
      events.map((event) => Number.parseInt(event.data, 10)),
      [...Array.from({ length: published }, (_, n) => n), Number.NaN],
    )
    assert.equal(hub.stats().sessions, 1)
    // The stalled connection was dropped, not left open with its unsent output; what the client
    // got is a gap-free prefix, so it resumes from the Last-Event-ID of the last event it got.
    stalled.resume()
    await stalled.until(() => stalled.closed, 5000, 'the stalled connection dropped')
    assert.equal(stalled.bodyEnded, false)
    assert.ok(stalled.events.length < published)
    assert.deepEqual(
      stalled.events.map((event) => Number.parseInt(event.data, 10)),
      Array.from({ length: stalled.events.length }, (_, n) => n),
    )
  })

  it('keeps a quiet stream open past requestTimeout, headersTimeout and server.timeout', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false })
    const http = await startServer(createSseHandler(hub), {
      requestTimeout: 1000,
      headersTimeout: 500,
      connectionsCheckingInterval: 100,
    })
    http.server.timeout = 500
    cleanups.push(
      () => hub.close(),
      () => http.close(),
    )
    const client = await raw(http.port, '/events?channel=quiet')
    const opened = Date.now()
    // Control: the same server does cut a request whose headers never finish.
    const slowloris = connect(http.port, '127.0.0.1')
    cleanups.push(() => slowloris.destroy())
    let slowlorisClosed = false
    slowloris.on('close', () => {
      slowlorisClosed = true
    })
    slowloris.on('error', () => {})
    // Read what the server answers: whichever of headersTimeout (a 408, then FIN) and
    // server.timeout (a bare FIN) fires first, 'close' only comes once the bytes are consumed.
    let answer = ''
    slowloris.on('data', (data: Buffer) => {
      answer += data.toString('latin1')
    })
    slowloris.write('GET / HTTP/1.1\r\nhost: x\r\n')
    await sessions(hub, 1)
    await waitFor(() => slowlorisClosed, 10_000, 'the server to cut the unfinished request')
    assert.ok(
      answer === '' || answer.startsWith('HTTP/1.1 408 '),
      `unexpected answer: ${JSON.stringify(answer)}`,
    )
    await sleep(2200 - (Date.now() - opened))
    assert.equal(client.closed, false)
    await withTimeout(hub.publish('quiet', 'still here'), 1000, 'publish')
    await client.until(() => client.events.length === 1, 2000, 'the event after 2.2 s of silence')
    assert.equal(client.events[0]?.data, 'still here')
  })
})

describe('serveSse', () => {
  async function serveServer(
    handler: (hub: Hub, req: IncomingMessage, res: ServerResponse) => void,
    hubOptions: HubOptions = {},
  ): Promise<{ hub: Hub; http: TestServer }> {
    const hub = createHub(hubOptions)
    const http = await startServer((req, res) => handler(hub, req, res))
    cleanups.push(
      () => hub.close(),
      () => http.close(),
    )
    return { hub, http }
  }

  it('throws before writing anything, so the caller can still answer', async () => {
    const { http } = await serveServer((hub, req, res) => {
      try {
        serveSse(hub, req, res, { channels: [] })
      } catch (error) {
        res.writeHead(422, { 'content-type': 'text/plain' }).end(isSseError(error) ? error.code : 'other')
      }
    })
    const response = await withTimeout(fetch(`${http.origin}/`), 2000, 'request')
    assert.equal(response.status, 422)
    assert.equal(await withTimeout(response.text(), 2000, 'body'), 'SSE_ERR_SUBSCRIBE_EMPTY')
  })

  it('flushes the head at once even when the hub has nothing to send', async () => {
    const { http } = await serveServer((hub, req, res) => serveSse(hub, req, res, { channels: ['x'] }), {
      retryMs: false,
      heartbeatMs: false,
    })
    const client = await raw(http.port, '/')
    await client.until(() => client.head !== '', 2000, 'head')
    assert.match(client.head, /^HTTP\/1\.1 200 OK/)
  })

  it('ends the response when the application closes the session, reporting why', async () => {
    const reasons: CloseReason[] = []
    let session: Session | undefined
    const { hub, http } = await serveServer((hub, req, res) => {
      session = serveSse(hub, req, res, { channels: ['x'], onClose: (reason) => reasons.push(reason) })
    })
    const client = await raw(http.port, '/')
    await sessions(hub, 1)
    session?.close()
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    assert.deepEqual(reasons, ['closed'])
    assert.equal(hub.stats().sessions, 0)
  })

  it('ends every response when the hub closes', async () => {
    const reasons: CloseReason[] = []
    const { hub, http } = await serveServer((hub, req, res) => {
      serveSse(hub, req, res, { channels: ['x'], onClose: (reason) => reasons.push(reason) })
    })
    const client = await raw(http.port, '/')
    await sessions(hub, 1)
    await withTimeout(hub.close(), 1000, 'hub close')
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    assert.deepEqual(reasons, ['hub-closed'])
  })

  it('reads Last-Event-ID from the request unless told, and "" turns resuming off', async () => {
    const { hub, http } = await serveServer((hub, req, res) => {
      const fresh = req.url === '/fresh'
      serveSse(hub, req, res, { channels: ['x'], ...(fresh ? { lastEventId: '' } : {}) })
    })
    const first = await withTimeout(hub.publish('x', 'one'), 1000, 'publish')
    await withTimeout(hub.publish('x', 'two'), 1000, 'publish')
    const resumed = await sse(`${http.origin}/`, { 'last-event-id': first })
    assert.deepEqual(
      (await resumed.waitForEvents(1, 2000)).map((event) => event.data),
      ['two'],
    )
    const fresh = await sse(`${http.origin}/fresh`, { 'last-event-id': first })
    await sessions(hub, 2)
    await withTimeout(hub.publish('x', 'three'), 1000, 'publish')
    assert.deepEqual(
      (await fresh.waitForEvents(1, 2000)).map((event) => event.data),
      ['three'],
    )
  })
})

describe('createNodeSink', () => {
  it('writes nothing until the first write or open(), and close() is idempotent and aborts the signal', async () => {
    const steps: string[] = []
    const http = await startServer((req, res) => {
      const sink = createNodeSink(req, res, { headers: { 'x-extra': '1' } })
      steps.push(`opened=${sink.opened} sent=${res.headersSent}`)
      sink.write(new TextEncoder().encode('data: one\n\n'))
      steps.push(`opened=${sink.opened} sent=${res.headersSent}`)
      sink.close()
      sink.close()
      steps.push(`aborted=${sink.signal.aborted} ended=${res.writableEnded}`)
      steps.push(`write after close=${sink.write(new Uint8Array([1]))}`)
    })
    cleanups.push(() => http.close())
    const client = await raw(http.port, '/')
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    assert.deepEqual(steps, [
      'opened=false sent=false',
      'opened=true sent=true',
      'aborted=true ended=true',
      'write after close=true',
    ])
    assert.equal(client.headers.get('x-extra'), '1')
    assert.equal(client.body, 'data: one\n\n')
  })

  it('aborts its signal and settles waitForDrain when the client goes away', async () => {
    let settled: Promise<string> | undefined
    let full = false
    const http = await startServer((req, res) => {
      const sink = createNodeSink(req, res)
      sink.open()
      const chunk = new Uint8Array(64 * 1024).fill(0x3a)
      // Write until even the kernel buffers are full: a drain that does not come within 200 ms.
      const fill = async (): Promise<void> => {
        for (;;) {
          while (sink.write(chunk)) {}
          const drained = sink.waitForDrain()
          const stuck = await Promise.race([drained.then(() => false), sleep(200).then(() => true)])
          if (stuck) {
            settled = drained.then(() => `aborted=${sink.signal.aborted}`)
            full = true
            return
          }
        }
      }
      void fill()
    })
    cleanups.push(() => http.close())
    const client = await raw(http.port, '/', { paused: true })
    await waitFor(() => full, 5000, 'sink full')
    client.close()
    assert.equal(await withTimeout(settled as Promise<string>, 2000, 'waitForDrain'), 'aborted=true')
  })

  it('rejects a header that would split the response, before anything is written', () => {
    const hub = createHub()
    const req = {} as IncomingMessage
    const res = {} as ServerResponse
    const invalid = (error: unknown): boolean =>
      isSseError(error, 'SSE_ERR_OPTION_INVALID') && error.field === 'headers'
    assert.throws(() => createNodeSink(req, res, { headers: { 'x-a': 'b\r\nx-injected: 1' } }), invalid)
    assert.throws(() => createSseHandler(hub, { headers: { 'x-a': 'b\nc' } }), invalid)
    assert.throws(() => serveSse(hub, req, res, { channels: ['a'], headers: { 'a b': 'c' } }), invalid)
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
  })

  it('reads Last-Event-ID from the header, then the query, and treats empty as absent', () => {
    const request = (url: string, headers: Record<string, string> = {}): IncomingMessage =>
      ({ url, headers }) as unknown as IncomingMessage
    assert.equal(lastEventIdOf(request('/?lastEventId=q', { 'last-event-id': 'h' })), 'h')
    assert.equal(lastEventIdOf(request('/?lastEventId=q')), 'q')
    assert.equal(lastEventIdOf(request('/?lastEventId=q', { 'last-event-id': '' })), 'q')
    assert.equal(lastEventIdOf(request('/?lastEventId=')), undefined)
    assert.equal(lastEventIdOf(request('/')), undefined)
    assert.equal(lastEventIdOf(request('/', {}), new URL('http://h/?lastEventId=u')), 'u')
    assert.equal(lastEventIdOf(request('http://[bad/?lastEventId=q')), 'q')
  })
})
