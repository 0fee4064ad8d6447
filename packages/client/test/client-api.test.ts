/** The public surface: EventSource compatibility, typed events, validation, the async iterator, options. */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  ClientErrorEvent,
  type ClientOptions,
  connect,
  ResetEvent,
  SseClient,
  type SseClientError,
  type SseClientErrorCode,
  type SseEvent,
  type StandardSchemaV1,
  type VisibilitySource,
} from '@ssehub/client'
import { isSseError } from '@ssehub/core/wire'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { record, SSE_HEAD, scriptedStream, startServer, type TestServer, writeChunks } from './helpers.js'

const servers: TestServer[] = []
const clients: { close(): void }[] = []
after(async () => {
  for (const client of clients) client.close()
  for (const server of servers) await server.close()
})

async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(handler)
  servers.push(server)
  return server
}

function track<T extends { close(): void }>(client: T): T {
  clients.push(client)
  return client
}

/** A Standard Schema v1 validator written by hand, as zod or valibot would provide one. */
function schema<T>(
  check: (value: unknown) => value is T,
  options: { async?: boolean } = {},
): StandardSchemaV1<unknown, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate(value) {
        const result = check(value)
          ? { value }
          : { issues: [{ message: 'not a greeting', path: ['message'] }] }
        return options.async === true ? sleep(5).then(() => result) : result
      },
    },
  }
}

interface Greeting {
  message: string
}
const isGreeting = (value: unknown): value is Greeting =>
  typeof value === 'object' && value !== null && typeof (value as Greeting).message === 'string'

describe('EventSource-compatible surface', () => {
  test('exposes readyState constants, url, withCredentials and the lifecycle', async () => {
    const server = await serve(
      scriptedStream([['retry: 1\ndata: one\n\n'], ['data: two\n\n']], { hold: false }),
    )
    assert.deepEqual([SseClient.CONNECTING, SseClient.OPEN, SseClient.CLOSED], [0, 1, 2])
    const client = track(connect(server.url('/events?x=1'), { credentials: 'include' }))
    assert.deepEqual([client.CONNECTING, client.OPEN, client.CLOSED], [0, 1, 2])
    assert.equal(client.url, server.url('/events?x=1'))
    assert.equal(client.withCredentials, true)
    assert.equal(client.readyState, client.CONNECTING)
    const states: number[] = []
    client.onopen = () => states.push(client.readyState)
    client.onerror = () => states.push(client.readyState)
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 2)
    assert.deepEqual(states.slice(0, 3), [client.OPEN, client.CONNECTING, client.OPEN])
    client.close()
    assert.equal(client.readyState, client.CLOSED)
    client.close()
    assert.equal(recorder.of('close').length, 1)
    assert.equal(track(connect(server.url())).withCredentials, false)
  })

  test('dispatches MessageEvents with data, lastEventId and origin to handlers and listeners', async () => {
    const server = await serve(
      scriptedStream([['id: 1\ndata: plain\n\nevent: greeting\nid: 2\ndata: hi\n\n']], { hold: true }),
    )
    const client = track(connect(server.url()))
    const seen: string[] = []
    let handlerThis: unknown
    client.onmessage = function (event) {
      handlerThis = this
      assert.ok(event instanceof MessageEvent)
      seen.push(`onmessage:${event.data}:${event.lastEventId}:${event.origin}`)
    }
    const named = (event: MessageEvent): void => {
      seen.push(`greeting:${event.data}:${event.lastEventId}`)
    }
    client.addEventListener('greeting', named)
    await waitFor(() => seen.length === 2, 5000, 'two events')
    assert.deepEqual(seen, [`onmessage:plain:1:${server.origin}`, 'greeting:hi:2'])
    assert.equal(handlerThis, client)
    assert.equal(client.lastEventId, '2')
    client.removeEventListener('greeting', named)
    client.onmessage = null
    assert.equal(client.onmessage, null)
  })

  test('runs an event handler attribute in the position of its first assignment', async () => {
    const server = await serve(scriptedStream([['data: x\n\n']], { hold: true }))
    const client = track(connect(server.url()))
    const order: string[] = []
    client.addEventListener('message', () => order.push('listener 1'))
    client.onmessage = () => order.push('first handler')
    client.addEventListener('message', () => order.push('listener 2'))
    client.onmessage = () => order.push('replaced handler')
    await waitFor(() => order.length === 3, 5000, 'dispatch')
    assert.deepEqual(order, ['listener 1', 'replaced handler', 'listener 2'])
  })

  test('fires nothing after close(), even for the rest of a chunk', async () => {
    const server = await serve(scriptedStream([['data: 1\n\ndata: 2\n\ndata: 3\n\n']], { hold: true }))
    const client = track(connect(server.url()))
    const data: string[] = []
    client.onmessage = (event) => {
      data.push(event.data)
      client.close()
    }
    const recorder = record(client)
    await recorder.closed()
    await sleep(30)
    assert.deepEqual(data, ['1'])
    assert.deepEqual(recorder.of('error'), [])
  })

  test('an aborted signal closes the client', async () => {
    const server = await serve(scriptedStream([[': hi\n\n']], { hold: true }))
    const controller = new AbortController()
    const client = track(connect(server.url(), { signal: controller.signal }))
    const recorder = record(client)
    await recorder.until(() => client.readyState === client.OPEN)
    controller.abort()
    await recorder.closed()
    assert.equal(client.readyState, client.CLOSED)
    const already = track(connect(server.url(), { signal: AbortSignal.abort() }))
    assert.equal(already.readyState, already.CLOSED)
  })
})

describe('typed events, JSON and Standard Schema validation', () => {
  test('parses JSON data and types events by the event map', async () => {
    const server = await serve(
      scriptedStream([['event: greeting\ndata: {"message":"hello"}\n\n']], { hold: true }),
    )
    const client = track(connect<{ greeting: Greeting }>(server.url(), { json: true }))
    const message = await withTimeout(
      new Promise<string>((resolve) => {
        client.addEventListener('greeting', (event) => resolve(event.data.message))
      }),
      5000,
      'greeting',
    )
    assert.equal(message, 'hello')
  })

  test('validates with a Standard Schema, infers the map from it, and reports failures as error events', async () => {
    const server = await serve(
      scriptedStream(
        [
          [
            'event: greeting\nid: 1\ndata: {"message":"valid"}\n\n',
            'event: greeting\nid: 2\ndata: {"nope":true}\n\n',
            'event: greeting\nid: 3\ndata: not json\n\n',
            'event: other\ndata: {"free":1}\n\n',
            'event: greeting\nid: 4\ndata: {"message":"still going"}\n\n',
          ],
        ],
        { hold: true },
      ),
    )
    const client = track(connect(server.url(), { json: true, schemas: { greeting: schema(isGreeting) } }))
    const greetings: string[] = []
    const others: unknown[] = []
    const errors: SseClientError[] = []
    client.addEventListener('greeting', (event) => greetings.push(event.data.message))
    client.addEventListener('other', (event) => others.push((event as MessageEvent).data))
    client.onerror = (event) => errors.push(event.error)
    await waitFor(() => greetings.length === 2, 5000, 'greetings')
    assert.deepEqual(greetings, ['valid', 'still going'])
    assert.deepEqual(others, [{ free: 1 }])
    assert.deepEqual(
      errors.map((error) => error.code),
      ['SSE_ERR_CLIENT_EVENT_INVALID', 'SSE_ERR_CLIENT_EVENT_INVALID'],
    )
    assert.deepEqual(errors[0]?.issues, [{ message: 'not a greeting', path: ['message'] }])
    assert.deepEqual(
      { type: errors[0]?.event?.type, data: errors[0]?.event?.data, id: errors[0]?.event?.lastEventId },
      { type: 'greeting', data: '{"nope":true}', id: '2' },
    )
    assert.ok(errors[1]?.cause instanceof SyntaxError)
    assert.equal(client.readyState, client.OPEN)
    // A dropped event still moves the position: a reconnect does not ask for it again.
    assert.equal(client.lastEventId, '4')
  })

  test('keeps events in order behind an async validator', async () => {
    const server = await serve(
      scriptedStream(
        [
          [
            'event: greeting\ndata: {"message":"a"}\n\ndata: "b"\n\nevent: greeting\ndata: {"message":"c"}\n\n',
          ],
        ],
        {
          hold: true,
        },
      ),
    )
    const client = track(
      connect(server.url(), { json: true, schemas: { greeting: schema(isGreeting, { async: true }) } }),
    )
    const order: string[] = []
    client.addEventListener('greeting', (event) => order.push(event.data.message))
    client.addEventListener('message', (event) => order.push(String((event as MessageEvent).data)))
    await waitFor(() => order.length === 3, 5000, 'three events')
    assert.deepEqual(order, ['a', 'b', 'c'])
  })

  test('reports a validator that throws as an invalid event', async () => {
    const server = await serve(scriptedStream([['data: x\n\ndata: y\n\n']], { hold: true }))
    let calls = 0
    const throwing: StandardSchemaV1<unknown, string> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          if (++calls === 1) throw new Error('validator bug')
          return { value: String(value) }
        },
      },
    }
    const client = track(connect(server.url(), { schemas: { message: throwing } }))
    const errors: string[] = []
    const data: string[] = []
    client.onerror = (event) => errors.push((event.error.cause as Error).message)
    client.onmessage = (event) => data.push(event.data)
    await waitFor(() => data.length === 1, 5000, 'second event')
    assert.deepEqual(errors, ['validator bug'])
    assert.deepEqual(data, ['y'])
  })

  test('an event named like an Object.prototype member is not mistaken for a schema', async () => {
    const server = await serve(
      scriptedStream([['event: constructor\ndata: x\n\nevent: toString\ndata: y\n\n']], { hold: true }),
    )
    const client = track(connect(server.url(), { schemas: { greeting: schema(isGreeting) } }))
    const seen: string[] = []
    client.addEventListener('constructor', (event) => seen.push((event as MessageEvent).data))
    client.addEventListener('toString', (event) => seen.push((event as MessageEvent).data))
    await waitFor(() => seen.length === 2, 5000, 'both events')
    assert.deepEqual(seen, ['x', 'y'])
  })
})

test('types: the event map types data, listeners, handlers and the iterator (compile-time)', () => {
  // Checked by tsc (tsconfig.test.json), never run: a wrong type here fails the typecheck.
  const check = async (url: string): Promise<void> => {
    const typed = connect<{ greeting: Greeting; count: number }>(url, { json: true })
    typed.addEventListener('greeting', (event) => {
      const message: string = event.data.message
      const type: 'greeting' = event.type
      void [message, type]
    })
    typed.addEventListener('count', (event) => {
      const n: number = event.data
      void n
    })
    typed.addEventListener('greeting', (event) => {
      // @ts-expect-error the data of a greeting is a Greeting, not a number
      const n: number = event.data
      void n
    })
    typed.addEventListener('reset', (event) => {
      const reason: string = event.reason
      void reason
    })
    typed.addEventListener('error', (event) => {
      const code: SseClientErrorCode = event.error.code
      void code
    })
    typed.addEventListener('undeclared', (event) => {
      const data: unknown = event.data
      void data
    })
    for await (const event of typed) {
      if (event.type === 'greeting') {
        const message: string = event.data.message
        void message
      } else if (event instanceof ResetEvent) {
        const lost: string = event.lostEventId
        void lost
      }
    }
    // The map is inferred from the schemas.
    const inferred = connect(url, { json: true, schemas: { greeting: schema(isGreeting) } })
    inferred.addEventListener('greeting', (event) => {
      const message: string = event.data.message
      void message
    })
    // Without a map, data is the raw string, as with EventSource.
    const plain = connect(url)
    plain.onmessage = (event) => {
      const text: string = event.data
      void text
    }
    plain.addEventListener('anything', (event) => {
      const text: string = event.data
      void text
    })
    const isNumber = (value: unknown): value is number => typeof value === 'number'
    // @ts-expect-error a schema must produce the declared type
    connect<{ greeting: Greeting }>(url, { schemas: { greeting: schema(isNumber) } })
  }
  assert.equal(typeof check, 'function')
})

describe('async iteration', () => {
  test('yields events and resets in order, and leaving the loop closes the stream', async () => {
    const server = await serve(
      scriptedStream(
        [
          [
            'data: one\n\n',
            'event: ssehub.reset\nid: ep.9\ndata: {"reason":"trimmed","lastEventId":"ep.1"}\n\n',
            'event: tick\ndata: two\n\n',
          ],
        ],
        { hold: true },
      ),
    )
    const client = track(connect(server.url(), { lastEventId: 'ep.1' }))
    const seen: string[] = []
    for await (const event of client) {
      if (event instanceof ResetEvent)
        seen.push(`reset:${event.reason}:${event.lostEventId}:${event.lastEventId}`)
      else seen.push(`${event.type}:${event.data}`)
      if (seen.length === 3) break
    }
    assert.deepEqual(seen, ['message:one', 'reset:trimmed:ep.1:ep.9', 'tick:two'])
    assert.equal(client.readyState, client.CLOSED)
    await waitFor(() => server.requests.length === 1, 1000, 'one request')
  })

  test('ends after the buffered events when close() is called', async () => {
    const server = await serve(scriptedStream([['data: a\n\ndata: b\n\n']], { hold: true }))
    const client = track(connect(server.url()))
    const iterator = client[Symbol.asyncIterator]()
    await waitFor(() => client.lastEventId === '' && client.readyState === client.OPEN, 5000, 'open')
    await sleep(30)
    client.close()
    const results: IteratorResult<SseEvent<Record<string, string>>>[] = []
    for (let i = 0; i < 3; i++) results.push(await withTimeout(iterator.next(), 1000, 'next'))
    assert.deepEqual(
      results.map((result) => (result.done ? 'done' : result.value.data)),
      ['a', 'b', 'done'],
    )
    // An iterator of a closed client is done at once.
    assert.deepEqual(await client[Symbol.asyncIterator]().next(), { done: true, value: undefined })
  })

  test('throws the error when the stream fails for good', async () => {
    const server = await serve((_req, res) => void res.writeHead(404).end())
    const client = track(connect(server.url()))
    await assert.rejects(
      withTimeout(
        (async () => {
          for await (const _ of client) assert.fail('no event expected')
        })(),
        5000,
        'iteration',
      ),
      (error: SseClientError) => error.code === 'SSE_ERR_CLIENT_STATUS' && error.status === 404,
    )
  })

  test('ends normally when a stream without reconnect ends', async () => {
    const server = await serve(scriptedStream([['data: last\n\n']]))
    const client = track(connect(server.url(), { reconnect: false }))
    const data: string[] = []
    await withTimeout(
      (async () => {
        for await (const event of client) data.push(event.data)
      })(),
      5000,
      'iteration',
    )
    assert.deepEqual(data, ['last'])
  })

  test('gives every iterator every event', async () => {
    const server = await serve(scriptedStream([['data: 1\n\ndata: 2\n\n']], { hold: true }))
    const client = track(connect(server.url()))
    const take = async (count: number): Promise<string[]> => {
      const out: string[] = []
      const iterator = client[Symbol.asyncIterator]()
      while (out.length < count) {
        const result = await iterator.next()
        if (result.done) break
        out.push(result.value.data)
      }
      return out
    }
    const [a, b] = await withTimeout(Promise.all([take(2), take(2)]), 5000, 'two iterators')
    assert.deepEqual(
      [a, b],
      [
        ['1', '2'],
        ['1', '2'],
      ],
    )
  })

  test('a slow consumer pauses reading instead of dropping events or buffering without bound', async () => {
    const total = 1000
    let written = 0
    const server = await serve(async (_req, res) => {
      res.writeHead(200, SSE_HEAD)
      for (let n = 1; n <= total && !res.destroyed; n++) {
        // 16 KiB per event, 16 MiB in all: several times what the socket buffers and fetch's queue hold.
        const ok = res.write(`id: ${n}\ndata: ${String(n).padEnd(16_384, '.')}\n\n`)
        written = n
        if (!ok) await new Promise((resolve) => res.once('drain', resolve))
      }
    })
    const client = track(connect(server.url(), { iteratorBufferSize: 5 }))
    let dispatched = 0
    client.addEventListener('message', () => dispatched++)
    const iterator = client[Symbol.asyncIterator]()
    const first = await withTimeout(iterator.next(), 5000, 'first event')
    assert.equal(first.done, false)
    await sleep(200)
    // Nothing consumed for 200 ms: the client stopped reading (the server is blocked on a full
    // socket) and holds a bounded number of events.
    const paused = dispatched
    assert.ok(paused < 60, `dispatched ${paused} while paused`)
    assert.ok(written < total, `server wrote ${written} of ${total}`)
    await sleep(100)
    assert.equal(dispatched, paused)
    const numbers = [Number((first.value as MessageEvent).lastEventId)]
    while (numbers.length < total) {
      const result = await withTimeout(iterator.next(), 5000, 'next event')
      if (result.done) break
      numbers.push(Number((result.value as MessageEvent).lastEventId))
    }
    assert.deepEqual(
      numbers,
      Array.from({ length: total }, (_, i) => i + 1),
    )
  })
})

describe('pause while hidden', () => {
  function visibility(): VisibilitySource & { set(hidden: boolean): void; subscribers: number } {
    let hidden = false
    const listeners = new Set<() => void>()
    return {
      hidden: () => hidden,
      subscribe(onChange) {
        listeners.add(onChange)
        return () => listeners.delete(onChange)
      },
      set(value) {
        hidden = value
        for (const listener of listeners) listener()
      },
      get subscribers() {
        return listeners.size
      },
    }
  }

  test('closes the connection while hidden and resumes with Last-Event-ID when visible', async () => {
    let n = 0
    const server = await serve(async (_req, res) => {
      res.writeHead(200, SSE_HEAD)
      n++
      await writeChunks(res, [`id: v${n}\ndata: visit ${n}\n\n`])
    })
    const source = visibility()
    const client = track(connect(server.url(), { pauseWhenHidden: true, visibility: source }))
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    source.set(true)
    await recorder.until(() => client.readyState === client.CONNECTING)
    await sleep(50)
    assert.equal(server.requests.length, 1)
    source.set(false)
    await recorder.until(() => recorder.of('message').length === 2)
    assert.equal(server.requests[1]?.headers['last-event-id'], 'v1')
    assert.deepEqual(recorder.of('error'), [])
    client.close()
    assert.equal(source.subscribers, 0)
  })

  test('starts paused when the page is hidden at connect time', async () => {
    const server = await serve(scriptedStream([['data: hi\n\n']], { hold: true }))
    const source = visibility()
    source.set(true)
    track(connect(server.url(), { pauseWhenHidden: true, visibility: source }))
    await sleep(50)
    assert.equal(server.requests.length, 0)
    source.set(false)
    await waitFor(() => server.requests.length === 1, 5000, 'request once visible')
  })

  test('is off by default', async () => {
    const server = await serve(scriptedStream([['data: hi\n\n']], { hold: true }))
    const source = visibility()
    source.set(true)
    track(connect(server.url(), { visibility: source }))
    await waitFor(() => server.requests.length === 1, 5000, 'request')
    assert.equal(source.subscribers, 0)
  })
})

describe('options', () => {
  const invalid: [string, ClientOptions<Record<string, string>>][] = [
    ['retryMs', { retryMs: -1 }],
    ['maxRetryMs', { maxRetryMs: 1.5 }],
    ['reconnect', { reconnect: -5 }],
    ['heartbeatMs', { heartbeatMs: 0 }],
    ['stallMultiplier', { stallMultiplier: 0 }],
    ['iteratorBufferSize', { iteratorBufferSize: 0 }],
    ['maxBufferSize', { maxBufferSize: 0 }],
    ['lastEventId', { lastEventId: 'a\nb' }],
    ['body', { body: 'x' }],
    ['body', { method: 'HEAD', body: 'x' }],
  ]
  for (const [field, options] of invalid) {
    test(`rejects an invalid ${field} with SSE_ERR_OPTION_INVALID (${JSON.stringify(options)})`, () => {
      assert.throws(
        () => track(connect('http://127.0.0.1:1/', options)),
        (error: unknown) => isSseError(error, 'SSE_ERR_OPTION_INVALID') && error.field === field,
      )
    })
  }

  test('rejects a relative URL where there is no page location', () => {
    assert.throws(
      () => connect('/events'),
      (error: unknown) => isSseError(error, 'SSE_ERR_OPTION_INVALID') && error.field === 'url',
    )
  })

  test('ClientErrorEvent is an Event of type error', () => {
    const event = new ClientErrorEvent({ code: 'SSE_ERR_CLIENT_ENDED' } as SseClientError)
    assert.ok(event instanceof Event)
    assert.equal(event.type, 'error')
    assert.equal(event.error.code, 'SSE_ERR_CLIENT_ENDED')
  })

  test('ResetEvent reads the hub notice and tolerates a malformed one', () => {
    const good = new ResetEvent({
      data: '{"reason":"limit","lastEventId":"a.1"}',
      lastEventId: 'a.9',
      origin: 'o',
    })
    assert.deepEqual(
      [good.type, good.reason, good.lostEventId, good.lastEventId],
      ['reset', 'limit', 'a.1', 'a.9'],
    )
    const bad = new ResetEvent({ data: 'not json', lastEventId: 'a.9', origin: 'o' })
    assert.deepEqual([bad.reason, bad.lostEventId], ['unknown', ''])
  })
})
