import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import { isSseError } from '@ssehub/core'
import {
  activeStreamCount,
  STREAM_ERROR_EVENT,
  type StreamContext,
  type StreamEventsOptions,
  type StreamSource,
  sseEvent,
  streamEvents,
} from '@ssehub/server/node'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { heartbeatTimerCount } from '../src/fetch/heartbeat.js'
import { type RawSse, rawSse, startServer, type TestServer } from './node-fixtures.js'

const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

/** A server whose every request streams `source(req)`; `done` holds each call's promise. */
async function streamServer(
  source: (req: IncomingMessage, res: ServerResponse) => StreamSource,
  options: StreamEventsOptions = {},
): Promise<{ http: TestServer; done: Promise<void>[] }> {
  const done: Promise<void>[] = []
  const http = await startServer((req, res) => {
    done.push(streamEvents(req, res, source(req, res), { heartbeatMs: false, ...options }))
  })
  cleanups.push(() => http.close())
  return { http, done }
}

async function raw(port: number, path = '/', options: Parameters<typeof rawSse>[2] = {}): Promise<RawSse> {
  const client = await rawSse(port, path, options)
  cleanups.push(() => client.close())
  return client
}

/** The one promise of the stream this test opened, with a deadline. */
async function settled(done: Promise<void>[], ms = 2000): Promise<void> {
  await waitFor(() => done.length === 1, ms, 'the stream started')
  await withTimeout(done[0] as Promise<void>, ms, 'streamEvents to resolve')
}

describe('streamEvents', () => {
  it('sends strings as data, other values as JSON, and sseEvent values with their fields, then ends', async () => {
    const { http, done } = await streamServer(() =>
      (async function* () {
        yield 'plain text'
        yield { a: 1, b: [true, null] }
        yield 42
        yield sseEvent({ event: 'price', id: '7', retry: 500, data: { symbol: 'YHOO' } })
        yield sseEvent({ data: 'after', event: 'note' })
      })(),
    )
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    await settled(done)
    assert.deepEqual(client.events, [
      { type: 'message', data: 'plain text', lastEventId: '', id: undefined },
      { type: 'message', data: '{"a":1,"b":[true,null]}', lastEventId: '', id: undefined },
      { type: 'message', data: '42', lastEventId: '', id: undefined },
      { type: 'price', data: '{"symbol":"YHOO"}', lastEventId: '7', id: '7' },
      { type: 'note', data: 'after', lastEventId: '7', id: undefined },
    ])
    assert.deepEqual(client.retries, [2000, 500])
    assert.equal(client.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    assert.equal(client.headers.get('cache-control'), 'no-cache, no-transform')
    assert.equal(client.headers.get('x-accel-buffering'), 'no')
  })

  it('writes the head and the retry hint before the source yields anything', async () => {
    let release = (): void => {}
    const { http } = await streamServer(
      () =>
        (async function* () {
          await new Promise<void>((resolve) => {
            release = resolve
          })
          yield 'late'
        })(),
      { retryMs: 1234, headers: { 'x-stream': 'yes' } },
    )
    const client = await raw(http.port)
    await client.until(() => client.retries.length === 1, 2000, 'retry hint')
    assert.deepEqual(client.retries, [1234])
    assert.equal(client.headers.get('x-stream'), 'yes')
    assert.equal(client.events.length, 0)
    release()
    await client.until(() => client.events.length === 1, 2000, 'the event')
  })

  it('sends no retry hint with retryMs false', async () => {
    const { http } = await streamServer(
      () =>
        (async function* () {
          yield 'only'
        })(),
      { retryMs: false },
    )
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    assert.equal(client.body, 'data: only\n\n')
  })

  it('keeps multi-line data whole and never lets data start a new field or event', async () => {
    const { http } = await streamServer(() =>
      (async function* () {
        yield 'line 1\nline 2\r\nline 3\rline 4'
        yield 'x\revent: foo'
        yield 'a\n\nevent: x\ndata: injected'
        yield sseEvent({ data: 'one\r\n\r\nid: 666', event: 'multi' })
        yield ''
      })(),
    )
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    assert.deepEqual(
      client.events.map((event) => [event.type, event.data, event.lastEventId]),
      [
        ['message', 'line 1\nline 2\nline 3\nline 4', ''],
        ['message', 'x\nevent: foo', ''],
        ['message', 'a\n\nevent: x\ndata: injected', ''],
        ['multi', 'one\n\nid: 666', ''],
        ['message', '', ''],
      ],
    )
  })

  it('calls a source function with the Last-Event-ID and a signal that aborts on disconnect', async () => {
    const contexts: StreamContext[] = []
    const { http, done } = await streamServer(() => (context: StreamContext) => {
      contexts.push(context)
      return (async function* () {
        yield `after ${context.lastEventId}`
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve))
      })()
    })
    const client = await raw(http.port, '/', { headers: { 'last-event-id': '41' } })
    await client.until(() => client.events.length === 1, 2000, 'first event')
    assert.equal(client.events[0]?.data, 'after 41')
    assert.equal(contexts[0]?.signal.aborted, false)
    client.close()
    await settled(done)
    assert.equal(contexts[0]?.signal.aborted, true)
  })

  it('runs the generator finally and resolves when the client disconnects', async () => {
    let finallyRan = false
    let pulls = 0
    const { http, done } = await streamServer(() =>
      (async function* () {
        try {
          for (;;) {
            pulls++
            yield `tick ${pulls}`
            await sleep(5)
          }
        } finally {
          finallyRan = true
        }
      })(),
    )
    const client = await raw(http.port)
    await client.until(() => client.events.length >= 3, 2000, '3 events')
    client.close()
    await settled(done)
    await waitFor(() => finallyRan, 1000, 'the generator finally')
    const seen = pulls
    await sleep(50)
    assert.equal(pulls, seen, 'the generator is not pulled after the disconnect')
    assert.equal(activeStreamCount(), 0)
  })

  it('runs the finally of a generator waiting at a yield before resolving', async () => {
    let finallyRan = false
    let pulls = 0
    const { http, done } = await streamServer(() =>
      (async function* () {
        try {
          // 64 KiB values to a client that reads nothing: the stream soon waits for a drain.
          for (;;) {
            pulls++
            yield 'y'.repeat(64 * 1024)
          }
        } finally {
          finallyRan = true
        }
      })(),
    )
    const client = await raw(http.port, '/', { paused: true })
    let last = -1
    await waitFor(
      () => {
        const stable = pulls > 0 && pulls === last
        last = pulls
        return stable
      },
      5000,
      'the stream waiting for a drain',
    )
    await sleep(100)
    client.close()
    await settled(done)
    assert.equal(finallyRan, true)
  })

  it('ends with an ssehub.error event when the generator throws, revealing nothing, and reports it', async () => {
    const reported: unknown[] = []
    const { http, done } = await streamServer(
      () =>
        (async function* () {
          yield 'before'
          throw new Error('secret internals: password=hunter2')
        })(),
      { onError: (error) => reported.push(error) },
    )
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    await settled(done)
    assert.deepEqual(
      client.events.map((event) => [event.type, event.data]),
      [
        ['message', 'before'],
        [STREAM_ERROR_EVENT, '{"message":"stream failed"}'],
      ],
    )
    assert.equal(STREAM_ERROR_EVENT, 'ssehub.error')
    assert.doesNotMatch(client.body, /hunter2/)
    assert.equal(reported.length, 1)
    assert.match(String(reported[0]), /hunter2/)
  })

  it('uses errorMessage for the final error event and survives a failing reporter', async () => {
    const { http, done } = await streamServer(
      () =>
        (async function* () {
          yield* []
          throw new RangeError('out of range')
        })(),
      {
        errorMessage: (error) => `sorry: ${(error as Error).name}`,
        onError: () => {
          throw new Error('the reporter fails too')
        },
      },
    )
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    await settled(done)
    assert.deepEqual(
      client.events.map((event) => [event.type, event.data]),
      [[STREAM_ERROR_EVENT, '{"message":"sorry: RangeError"}']],
    )
  })

  it('treats a value that cannot be encoded as an error: no injected field or event, the generator closed', async () => {
    const cases: { value: unknown; code: string }[] = [
      { value: sseEvent({ data: 'x', event: 'm\revent: admin' }), code: 'SSE_ERR_WIRE_INVALID_EVENT' },
      { value: sseEvent({ data: 'x', event: 'a\nb' }), code: 'SSE_ERR_WIRE_INVALID_EVENT' },
      { value: sseEvent({ data: 'x', id: 'a\ndata: x' }), code: 'SSE_ERR_WIRE_INVALID_ID' },
      { value: sseEvent({ data: 'x', id: 'a\u0000b' }), code: 'SSE_ERR_WIRE_INVALID_ID' },
      { value: sseEvent({ data: 'x', retry: 1.5 }), code: 'SSE_ERR_WIRE_INVALID_RETRY' },
      { value: sseEvent({ data: 'x', event: 'ssehub.reset' }), code: 'SSE_ERR_EVENT_RESERVED' },
      { value: sseEvent({ data: 10n }), code: 'SSE_ERR_DATA_INVALID' },
      { value: undefined, code: 'SSE_ERR_DATA_INVALID' },
    ]
    const closed: boolean[] = []
    const reported: unknown[] = []
    const { http } = await streamServer(
      (req) =>
        (async function* () {
          const index = Number(req.url?.slice(1))
          try {
            yield 'good'
            yield cases[index]?.value
            yield 'never sent'
          } finally {
            closed[index] = true
          }
        })(),
      { onError: (error) => reported.push(error) },
    )
    for (const [index, { code }] of cases.entries()) {
      const client = await raw(http.port, `/${index}`)
      await client.until(() => client.bodyEnded, 2000, `end of body ${index}`)
      assert.deepEqual(
        client.events.map((event) => [event.type, event.data, event.lastEventId]),
        [
          ['message', 'good', ''],
          [STREAM_ERROR_EVENT, '{"message":"stream failed"}', ''],
        ],
        code,
      )
      assert.doesNotMatch(client.body, /admin|never sent|^event: b/m)
      await waitFor(() => closed[index] === true, 1000, `generator ${index} closed`)
      const error = reported[index]
      assert.ok(isSseError(error) && error.code === code, `${code}: ${String(error)}`)
    }
  })

  it('treats a source function that throws like a failing iterator', async () => {
    const { http, done } = await streamServer(() => () => {
      throw new Error('no source')
    })
    const client = await raw(http.port)
    await client.until(() => client.bodyEnded, 2000, 'end of body')
    await settled(done)
    assert.deepEqual(
      client.events.map((event) => event.type),
      [STREAM_ERROR_EVENT],
    )
  })

  it('pulls from the generator only as fast as a client that stopped reading drains, then delivers all', async () => {
    const total = 10_000
    // 1 KiB per value: an 8-digit counter and filler.
    const value = (n: number): string => `${String(n).padStart(8, '0')}${'x'.repeat(1016)}`
    let pulls = 0
    let serverSocket: Socket | undefined
    const { http, done } = await streamServer(
      (req) => {
        serverSocket = req.socket
        return (async function* () {
          for (let n = 0; n < total; n++) {
            pulls++
            yield value(n)
          }
        })()
      },
      { retryMs: false },
    )
    const client = await raw(http.port, '/', { paused: true })
    let last = -1
    await waitFor(
      () => {
        const stable = pulls > 0 && pulls === last
        last = pulls
        return stable
      },
      5000,
      'pulls to stop while the client reads nothing',
    )
    await sleep(300)
    const paused = pulls
    // The kernel buffers of a loopback connection take a few MB (about 4 MB on Linux) before Node
    // sees backpressure; beyond them, Node itself holds at most its high-water mark plus one event.
    assert.ok(paused < total / 2, `pulled ${paused} of ${total} values while the client read nothing`)
    assert.ok(
      (serverSocket?.writableLength ?? Number.POSITIVE_INFINITY) < 32 * 1024,
      `Node buffers ${serverSocket?.writableLength} bytes`,
    )
    assert.equal(client.received, 0)
    client.resume()
    await client.until(() => client.bodyEnded, 20_000, 'every event')
    await settled(done)
    assert.equal(client.events.length, total)
    for (const [n, event] of client.events.entries()) {
      if (event.data !== value(n)) assert.fail(`event ${n} is out of order or damaged`)
    }
  })

  it('sends heartbeats to every stream from one shared timer, stopped with the last stream', async () => {
    const { http, done } = await streamServer(
      (_, res) =>
        (async function* () {
          await new Promise((resolve) => res.on('close', resolve))
        })(),
      { heartbeatMs: 50 },
    )
    const before = heartbeatTimerCount()
    const clients = await Promise.all([raw(http.port), raw(http.port), raw(http.port)])
    await waitFor(() => activeStreamCount() === 3, 2000, '3 streams')
    for (const client of clients) await client.until(() => client.comments.length >= 3, 2000, '3 heartbeats')
    assert.equal(heartbeatTimerCount(), before + 1)
    for (const client of clients) client.close()
    await withTimeout(Promise.all(done), 2000, 'streams over')
    assert.equal(activeStreamCount(), 0)
    assert.equal(heartbeatTimerCount(), 0)
  })

  it('throws SSE_ERR_OPTION_INVALID synchronously for an invalid option', () => {
    const req = {} as IncomingMessage
    const res = {} as ServerResponse
    const source = (async function* () {})()
    for (const options of [
      { heartbeatMs: 0 },
      { heartbeatMs: 1.5 },
      { retryMs: -1 },
      { retryMs: Number.NaN },
      { headers: { 'x-a': 'b\r\nx-injected: 1' } },
      { headers: { 'bad name': 'v' } },
    ]) {
      assert.throws(
        () => streamEvents(req, res, source, options),
        (error: unknown) => isSseError(error, 'SSE_ERR_OPTION_INVALID'),
      )
    }
  })

  it('makes frozen events whose fields are set only when given', () => {
    const event = sseEvent({ data: { a: 1 }, event: 'e' })
    assert.equal(Object.isFrozen(event), true)
    assert.deepEqual(Object.keys(event), ['data', 'event'])
    assert.equal('id' in event, false)
  })
})
