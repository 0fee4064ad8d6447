/**
 * The Fetch adapter without any server: `Request` in, `Response` out, read the way a runtime
 * (Bun, Deno, workers) reads it. The body stream's queue is the backpressure signal, and
 * cancelling it is how a runtime says the client left.
 */
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { createHub, type Hub, type HubOptions } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import {
  activeStreamCount,
  createFetchSink,
  createSseHandler,
  serveSse,
  sseEvent,
  streamEvents,
} from '@ssehub/server/fetch'
import { waitFor, withTimeout } from '@ssehub/testkit'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

function hubOf(options: HubOptions = {}): Hub {
  const hub = createHub({ heartbeatMs: false, ...options })
  cleanups.push(() => hub.close())
  return hub
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Reads a response body as a runtime would, parsing events, until told to stop. */
function reader(response: Response) {
  const body = response.body
  assert.ok(body)
  const stream = body.getReader()
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  let done = false
  let failed: unknown
  const pump = (async () => {
    try {
      for (;;) {
        const chunk = await stream.read()
        if (chunk.done) break
        parser.feed(chunk.value)
      }
    } catch (error) {
      failed = error
    } finally {
      done = true
    }
  })()
  cleanups.push(() => stream.cancel().catch(() => {}))
  return {
    events,
    get done() {
      return done
    },
    get failed() {
      return failed
    },
    cancel: () => stream.cancel(),
    finished: () => withTimeout(pump, 2000, 'the end of the body'),
  }
}

describe('createFetchSink', () => {
  it('reports backpressure once the body holds its high-water mark, and drains when the reader pulls', async () => {
    const sink = createFetchSink({ highWaterMarkBytes: 10 })
    assert.equal(sink.write(bytes('12345')), true)
    assert.equal(sink.write(bytes('67890')), false, 'at the mark: behind')
    assert.equal(sink.behind, true)
    assert.equal(sink.write(bytes('abc')), false, 'still accepted, still behind')
    let drained = false
    void sink.waitForDrain().then(() => {
      drained = true
    })
    const body = sink.body.getReader()
    await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(drained, false)
    assert.deepEqual(await withTimeout(body.read(), 1000, 'read'), { done: false, value: bytes('12345') })
    await withTimeout(
      (async () => {
        while (!drained) await new Promise((resolve) => setTimeout(resolve, 1))
      })(),
      1000,
      'drain',
    )
    assert.equal(sink.behind, false)
    sink.close()
    assert.equal(sink.signal.aborted, true)
    assert.deepEqual(await withTimeout(body.read(), 1000, 'read'), { done: false, value: bytes('67890') })
    assert.deepEqual(await withTimeout(body.read(), 1000, 'read'), { done: false, value: bytes('abc') })
    assert.equal((await withTimeout(body.read(), 1000, 'read')).done, true, 'queued data, then the end')
  })

  it('aborts its signal when the body is cancelled or the request signal aborts', async () => {
    const cancelled = createFetchSink()
    await withTimeout(cancelled.body.cancel(), 1000, 'cancel')
    assert.equal(cancelled.signal.aborted, true)
    assert.equal(cancelled.write(bytes('late')), true, 'writes after the end are ignored')
    const request = new AbortController()
    const aborted = createFetchSink({ signal: request.signal })
    request.abort()
    assert.equal(aborted.signal.aborted, true)
  })

  it('errors the body on destroy(), so the runtime drops the connection instead of finishing it', async () => {
    const sink = createFetchSink()
    sink.write(bytes('data: a\n\n'))
    sink.destroy()
    const body = sink.body.getReader()
    await assert.rejects(withTimeout(body.read(), 1000, 'read'), /fell too far behind/)
  })

  it('validates its options', () => {
    assert.throws(() => createFetchSink({ highWaterMarkBytes: 0 }), { code: 'SSE_ERR_OPTION_INVALID' })
    assert.throws(() => createFetchSink({ headers: { 'x-a': 'b\r\nx-injected: 1' } }), {
      code: 'SSE_ERR_OPTION_INVALID',
    })
  })
})

describe('serveSse and createSseHandler (Fetch)', () => {
  it('answers with a streaming Response whose events arrive while the body is open', async () => {
    const hub = hubOf()
    const { response, session } = serveSse(hub, new Request('https://hub.example/events'), {
      channels: ['news'],
    })
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(response.headers.get('connection'), null, 'the runtime manages the connection')
    const read = reader(response)
    await withTimeout(hub.publish('news', 'hello'), 1000, 'publish')
    await waitFor(() => read.events.length === 1, 2000, 'the event')
    session.close()
    await read.finished()
    assert.equal(read.failed, undefined)
  })

  it('ends the session when the runtime cancels the body, or aborts the request signal', async () => {
    const hub = hubOf({ heartbeatMs: 1000 })
    const handler = createSseHandler(hub)
    const first = reader(handler(new Request('https://hub.example/events?channel=a')))
    const controller = new AbortController()
    const second = reader(
      handler(new Request('https://hub.example/events?channel=b', { signal: controller.signal })),
    )
    await waitFor(() => hub.stats().sessions === 2, 1000, 'two sessions')
    await withTimeout(first.cancel(), 1000, 'cancel')
    await waitFor(() => hub.stats().sessions === 1, 1000, 'one session')
    controller.abort()
    await waitFor(() => hub.stats().sessions === 0, 1000, 'no session')
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
    await second.finished()
  })

  it('drops a reader that never reads once the session queue overflows', async () => {
    const hub = hubOf({ maxQueueBytes: 16 * 1024 })
    const reasons: string[] = []
    const { response } = serveSse(hub, new Request('https://hub.example/events'), {
      channels: ['firehose'],
      highWaterMarkBytes: 4096,
      onClose: (reason) => reasons.push(reason),
    })
    for (let n = 0; n < 64 && reasons.length === 0; n++) {
      await withTimeout(hub.publish('firehose', 'x'.repeat(1024)), 1000, 'publish')
    }
    assert.deepEqual(reasons, ['overflow'])
    const read = reader(response)
    await read.finished()
    assert.match(
      String(read.failed),
      /fell too far behind/,
      'the body errors: the runtime resets the connection',
    )
  })

  it('answers invalid requests with JSON before streaming, and HEAD with the head alone', async () => {
    const hub = hubOf()
    const handler = createSseHandler(hub)
    const invalid = handler(new Request('https://hub.example/events?channel=a%0Ab'))
    assert.equal(invalid.status, 400)
    assert.equal(invalid.headers.get('content-type'), 'application/json; charset=utf-8')
    const { error } = (await withTimeout(invalid.json(), 2000, 'body')) as {
      error: { code: string; field: string; message: string }
    }
    assert.deepEqual(
      [error.code, error.field, typeof error.message],
      ['SSE_ERR_CHANNEL_INVALID', 'channel', 'string'],
    )
    const head = handler(new Request('https://hub.example/events', { method: 'HEAD' }))
    assert.equal(head.status, 200)
    assert.equal(head.body, null)
    assert.equal(hub.stats().sessions, 0)
    await withTimeout(hub.close(), 1000, 'hub close')
    const closed = handler(new Request('https://hub.example/events'))
    assert.equal(closed.status, 503)
    assert.equal(closed.headers.get('retry-after'), '5')
    assert.throws(() => serveSse(hub, new Request('https://hub.example/'), { channels: ['a'] }), {
      code: 'SSE_ERR_HUB_CLOSED',
    })
  })
})

describe('streamEvents (Fetch)', () => {
  it('pulls the source only as fast as the body is read', async () => {
    let produced = 0
    const response = streamEvents(
      new Request('https://app.example/feed'),
      async function* () {
        for (;;) {
          produced++
          yield 'z'.repeat(1024)
        }
      },
      { retryMs: false },
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Nobody reads: the body's 64 KiB high-water mark bounds what the source produced.
    assert.ok(produced <= 70, `produced ${produced} KiB with no reader`)
    assert.equal(activeStreamCount(), 1)
    const body = response.body?.getReader()
    assert.ok(body)
    for (let n = 0; n < 100; n++) await withTimeout(body.read(), 1000, 'read')
    assert.ok(produced > 100)
    await withTimeout(body.cancel(), 1000, 'cancel')
    await waitFor(() => activeStreamCount() === 0, 1000, 'the stream over')
  })

  it('reads the body to its end with .text() when the source is finite', async () => {
    const response = streamEvents(
      new Request('https://app.example/feed', { headers: { 'last-event-id': '1' } }),
      async function* ({ lastEventId }) {
        for (let n = Number(lastEventId) + 1; n <= 3; n++) yield sseEvent({ id: String(n), data: { n } })
      },
      { retryMs: 500 },
    )
    assert.equal(
      await withTimeout(response.text(), 1000, 'text'),
      'retry: 500\n\nid: 2\ndata: {"n":2}\n\nid: 3\ndata: {"n":3}\n\n',
    )
  })
})
