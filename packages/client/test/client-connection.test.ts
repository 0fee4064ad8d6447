/** Connection rules: statuses, content type, stall detection, headers, bodies, resume and persistence. */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  type ClientOptions,
  connect,
  type RequestContext,
  type SseClient,
  SseClientError,
} from '@ssehub/client'
import { sleep, waitFor } from '@ssehub/testkit'
import {
  manualTimers,
  memoryStorage,
  record,
  SSE_HEAD,
  scriptedStream,
  startServer,
  type TestServer,
  writeChunks,
} from './helpers.js'

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

function open(url: string, options: ClientOptions = {}): SseClient {
  // Quick, deterministic reconnects unless a test says otherwise.
  const client = connect(url, { retryMs: 5, random: () => 1, ...options })
  clients.push(client)
  return client
}

/** Answers every request with `status` (and JSON), optionally with headers. */
function status(code: number, headers: Record<string, string> = {}): Parameters<typeof startServer>[0] {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers }).end('{"error":{"code":"X"}}')
  }
}

describe('statuses and content type', () => {
  test('stops for good on 204 without an error event', async () => {
    const server = await serve((_req, res) => void res.writeHead(204).end())
    const client = open(server.url())
    const recorder = record(client)
    await recorder.closed()
    await sleep(50)
    assert.equal(server.requests.length, 1)
    assert.equal(client.readyState, client.CLOSED)
    assert.deepEqual(recorder.of('error'), [])
  })

  for (const code of [400, 404, 405, 406, 410, 415, 422, 501, 505]) {
    test(`fails without retrying on ${code}`, async () => {
      const server = await serve(status(code))
      const client = open(server.url())
      const recorder = record(client)
      await recorder.closed()
      await sleep(30)
      assert.equal(server.requests.length, 1)
      assert.equal(client.readyState, client.CLOSED)
      assert.deepEqual(recorder.of('error'), [{ type: 'error', code: 'SSE_ERR_CLIENT_STATUS', status: code }])
    })
  }

  for (const code of [408, 429, 500, 502, 503, 504]) {
    test(`retries on ${code} and connects once the server recovers`, async () => {
      const server = await serve((req, res, seen, index) =>
        index < 2
          ? status(code)(req, res, seen, index)
          : scriptedStream([['data: up\n\n']], { hold: true })(req, res, seen, 0),
      )
      const client = open(server.url())
      const recorder = record(client)
      await recorder.until(() => recorder.of('message').length === 1)
      assert.equal(server.requests.length, 3)
      assert.deepEqual(
        recorder.of('error').map((entry) => entry.status),
        [code, code],
      )
      assert.equal(client.readyState, client.OPEN)
    })
  }

  test('fails without retrying on a 200 that is not text/event-stream', async () => {
    const server = await serve(
      (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('data: x\n\n'),
    )
    const client = open(server.url())
    const recorder = record(client)
    await recorder.closed()
    await sleep(30)
    assert.equal(server.requests.length, 1)
    assert.deepEqual(recorder.of('error'), [{ type: 'error', code: 'SSE_ERR_CLIENT_CONTENT_TYPE' }])
    assert.deepEqual(recorder.of('message'), [])
  })

  test('retries when the server cannot be reached', async () => {
    const server = await serve(() => {})
    const url = server.url()
    await server.close()
    servers.splice(servers.indexOf(server), 1)
    const client = open(url)
    const recorder = record(client)
    await recorder.until(() => recorder.of('error').length >= 2)
    assert.equal(recorder.of('error')[0]?.code, 'SSE_ERR_CLIENT_REQUEST')
    assert.equal(client.readyState, client.CONNECTING)
  })
})

describe('401 and 403: the onUnauthorized hook', () => {
  /** 401 (or `code`) unless the request carries `Bearer good`. */
  function guarded(code = 401): Parameters<typeof startServer>[0] {
    return (req, res, seen, index) => {
      if (seen.headers.authorization !== 'Bearer good') return status(code)(req, res, seen, index)
      return scriptedStream([['data: welcome\n\n']], { hold: true })(req, res, seen, 0)
    }
  }

  test('lets the hook refresh the token and retries once at once', async () => {
    for (const code of [401, 403]) {
      const server = await serve(guarded(code))
      let token = 'expired'
      const statuses: number[] = []
      const client = open(server.url(), {
        headers: () => ({ authorization: `Bearer ${token}` }),
        onUnauthorized: async ({ status, response }) => {
          statuses.push(status)
          assert.equal(response.status, status)
          token = 'good'
          return true
        },
      })
      const recorder = record(client)
      await recorder.until(() => recorder.of('message').length === 1)
      assert.deepEqual(statuses, [code])
      assert.deepEqual(
        server.requests.map((request) => request.headers.authorization),
        ['Bearer expired', 'Bearer good'],
      )
      assert.deepEqual(recorder.of('error'), [])
      client.close()
    }
  })

  test('fails after one hook-approved retry that is refused again', async () => {
    const server = await serve(guarded())
    let calls = 0
    const client = open(server.url(), {
      onUnauthorized: () => {
        calls++
        return true
      },
    })
    const recorder = record(client)
    await recorder.closed()
    assert.equal(calls, 1)
    assert.equal(server.requests.length, 2)
    assert.deepEqual(recorder.of('error'), [{ type: 'error', code: 'SSE_ERR_CLIENT_STATUS', status: 401 }])
  })

  test('fails at once without a hook, or when the hook declines or throws', async () => {
    const refusal = new Error('refresh failed')
    const cases: [ClientOptions['onUnauthorized'], unknown][] = [
      [undefined, undefined],
      [() => false, undefined],
      [
        () => {
          throw refusal
        },
        refusal,
      ],
    ]
    for (const [onUnauthorized, cause] of cases) {
      const server = await serve(guarded())
      const client = open(server.url(), onUnauthorized === undefined ? {} : { onUnauthorized })
      let error: SseClientError | undefined
      client.onerror = (event) => {
        error = event.error
      }
      await record(client).closed()
      assert.equal(server.requests.length, 1)
      assert.equal(error?.code, 'SSE_ERR_CLIENT_STATUS')
      assert.equal(error?.status, 401)
      assert.equal(error?.cause, cause)
    }
  })

  test('calls the hook again for a 401 after a connection that succeeded', async () => {
    let accept = 'good'
    const server = await serve((req, res, seen, index) => {
      if (seen.headers.authorization !== `Bearer ${accept}`) return status(401)(req, res, seen, index)
      return scriptedStream([['data: ok\n\n']])(req, res, seen, 0)
    })
    let token = 'good'
    let calls = 0
    const client = open(server.url(), {
      headers: () => ({ authorization: `Bearer ${token}` }),
      onUnauthorized: () => {
        calls++
        token = accept
        return true
      },
    })
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    // The server rotates its key and ends the stream: the next reconnect is refused once.
    accept = 'rotated'
    await recorder.until(() => recorder.of('message').length === 2)
    accept = 'rotated-again'
    await recorder.until(() => recorder.of('message').length === 3)
    assert.equal(calls, 2)
  })
})

describe('requests', () => {
  test('calls the headers function before every attempt and sends a fresh token each time', async () => {
    const server = await serve(
      scriptedStream([['retry: 1\ndata: x\nid: a\n\n'], ['id: b\ndata: y\n\n'], [': z\n\n']]),
    )
    const contexts: RequestContext[] = []
    let issued = 0
    const client = open(server.url(), {
      headers: async (context) => {
        contexts.push(context)
        await sleep(1)
        return { authorization: `Bearer token-${++issued}`, 'x-trace': 'yes' }
      },
    })
    await waitFor(() => server.requests.length >= 3, 5000, 'three requests')
    client.close()
    assert.deepEqual(
      server.requests.slice(0, 3).map((request) => request.headers.authorization),
      ['Bearer token-1', 'Bearer token-2', 'Bearer token-3'],
    )
    assert.deepEqual(
      contexts.slice(0, 3).map(({ attempt, lastEventId }) => ({ attempt, lastEventId })),
      [
        { attempt: 1, lastEventId: '' },
        { attempt: 2, lastEventId: 'a' },
        { attempt: 3, lastEventId: 'b' },
      ],
    )
    assert.ok(contexts.every((context) => context.signal instanceof AbortSignal))
    assert.equal(server.requests[0]?.headers['x-trace'], 'yes')
  })

  test('retries with backoff when the headers function throws', async () => {
    const server = await serve(scriptedStream([['data: in\n\n']], { hold: true }))
    let calls = 0
    const client = open(server.url(), {
      headers: () => {
        if (++calls < 3) throw new Error('token service down')
        return {}
      },
    })
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    assert.deepEqual(
      recorder.of('error').map((entry) => entry.code),
      ['SSE_ERR_CLIENT_REQUEST', 'SSE_ERR_CLIENT_REQUEST'],
    )
    assert.equal(server.requests.length, 1)
  })

  test('aborts the signal of a headers function that hangs past the stall timeout, then retries', async () => {
    const server = await serve(scriptedStream([['data: in\n\n']], { hold: true }))
    let calls = 0
    const client = open(server.url(), {
      heartbeatMs: 30,
      stallMultiplier: 1,
      headers: ({ signal }) => {
        // The first token request hangs until the client gives up on it.
        if (++calls > 1) return {}
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted'))),
        )
      },
    })
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    // The hung first attempt was given up as stalled and retried. (On a loaded machine a later
    // attempt may also outlast the 30 ms stall timeout: only stalls are accepted as errors.)
    const codes = recorder.of('error').map((entry) => entry.code)
    assert.ok(codes.length >= 1, 'the hanging headers function was given up on')
    assert.deepEqual(new Set(codes), new Set(['SSE_ERR_CLIENT_STALLED']))
    assert.ok(calls >= 2, 'the headers function was called again for the retry')
  })

  test('sends the method and a body (static or per attempt) on every attempt', async () => {
    const server = await serve(scriptedStream([['retry: 1\ndata: x\n\n']]))
    let n = 0
    const client = open(server.url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: () => JSON.stringify({ attempt: ++n }),
    })
    await waitFor(() => server.requests.length >= 2, 5000, 'two requests')
    client.close()
    assert.deepEqual(
      server.requests.slice(0, 2).map((request) => [request.method, request.body]),
      [
        ['POST', '{"attempt":1}'],
        ['POST', '{"attempt":2}'],
      ],
    )
  })

  test('sends the lastEventId option as Last-Event-ID on the first request, UTF-8 encoded', async () => {
    const server = await serve(scriptedStream([[': hi\n\n']], { hold: true }))
    const client = open(server.url(), { lastEventId: 'résumé-42' })
    assert.equal(client.lastEventId, 'résumé-42')
    await waitFor(() => server.requests.length === 1, 5000, 'request')
    client.close()
    const raw = String(server.requests[0]?.headers['last-event-id'])
    assert.equal(Buffer.from(raw, 'latin1').toString('utf8'), 'résumé-42')
  })
})

describe('stall detection', () => {
  test('aborts a connection that goes silent and reconnects with Last-Event-ID', async () => {
    const server = await serve(async (_req, res, _seen, index) => {
      res.writeHead(200, SSE_HEAD)
      // Headers and one event, then silence (the connection stays open).
      if (index === 0) await writeChunks(res, ['id: s1\ndata: before\n\n'])
      else await writeChunks(res, ['data: after\n\n'])
    })
    const started = Date.now()
    // A 300 ms stall timeout: the reconnect must bring its first byte within it, or a loaded
    // machine would count a second stall.
    const client = open(server.url(), { heartbeatMs: 150, stallMultiplier: 2 })
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 2)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 300, `reconnected after ${elapsed} ms`)
    assert.deepEqual(
      recorder.of('error').map((entry) => entry.code),
      ['SSE_ERR_CLIENT_STALLED'],
    )
    assert.equal(server.requests[1]?.headers['last-event-id'], 's1')
  })

  test('counts heartbeat comments as signs of life', async () => {
    // Manual timers make this independent of the machine's load: each comment must re-arm the
    // stall timer (clearing the old one), and the stall timer never fires while comments flow.
    let stream: import('node:http').ServerResponse | undefined
    const server = await serve((_req, res) => {
      res.writeHead(200, SSE_HEAD).flushHeaders()
      stream = res
    })
    const timers = manualTimers()
    const client = open(server.url(), { heartbeatMs: 40, stallMultiplier: 2, timers: timers.timers })
    const recorder = record(client)
    await waitFor(() => client.readyState === client.OPEN && stream !== undefined, 5000, 'open')
    for (let i = 0; i < 5; i++) {
      const armed = timers.delays.length
      stream?.write(':\n')
      await waitFor(() => timers.delays.length > armed, 5000, `stall timer re-armed by comment ${i + 1}`)
      assert.equal(timers.pending, 1, 'the previous stall timer was cleared')
      assert.equal(timers.delays.at(-1), 80)
    }
    assert.equal(server.requests.length, 1)
    assert.deepEqual(recorder.of('error'), [])
  })

  test('also gives up waiting for response headers after the stall timeout', async () => {
    const server = await serve(() => {}) // never answers
    const client = open(server.url(), { heartbeatMs: 30, stallMultiplier: 1 })
    const recorder = record(client)
    await recorder.until(() => server.requests.length >= 2)
    assert.equal(recorder.of('error')[0]?.code, 'SSE_ERR_CLIENT_STALLED')
  })

  test('does not detect stalls with heartbeatMs: false', async () => {
    const server = await serve(async (_req, res) => void res.writeHead(200, SSE_HEAD).flushHeaders())
    const client = open(server.url(), { heartbeatMs: false })
    const recorder = record(client)
    await recorder.until(() => server.requests.length === 1 && client.readyState === client.OPEN)
    await sleep(100)
    assert.equal(server.requests.length, 1)
    assert.equal(client.readyState, client.OPEN)
    assert.deepEqual(recorder.of('error'), [])
  })
})

describe('the reconnect option', () => {
  test('reconnect: false closes after the stream ends, with an error event and a close event', async () => {
    const server = await serve(scriptedStream([['data: once\n\n']]))
    const client = open(server.url(), { reconnect: false })
    const recorder = record(client)
    await recorder.closed()
    await sleep(30)
    assert.equal(server.requests.length, 1)
    assert.deepEqual(
      recorder.log.map((entry) => entry.type),
      ['open', 'message', 'error', 'close'],
    )
    assert.equal(recorder.of('error')[0]?.code, 'SSE_ERR_CLIENT_ENDED')
  })

  test('a reconnect function decides each delay and may give up', async () => {
    const server = await serve(status(503))
    const calls: [number, string, number][] = []
    const client = open(server.url(), {
      reconnect: (attempt, cause, delayMs) => {
        calls.push([attempt, cause.code, delayMs])
        return attempt < 3 ? 1 : false
      },
    })
    const recorder = record(client)
    await recorder.closed()
    assert.equal(server.requests.length, 3)
    assert.deepEqual(
      calls.map(([attempt, code]) => [attempt, code]),
      [
        [1, 'SSE_ERR_CLIENT_STATUS'],
        [2, 'SSE_ERR_CLIENT_STATUS'],
        [3, 'SSE_ERR_CLIENT_STATUS'],
      ],
    )
    // The default policy's delay is passed in: full jitter over 5 ms, doubling (random() = 1).
    assert.deepEqual(
      calls.map(([, , delay]) => delay),
      [5, 10, 20],
    )
    assert.equal(recorder.of('error').at(-1)?.status, 503)
  })
})

describe('persistence of the last event id', () => {
  test('writes the id to storage and resumes from it in a new client (a page reload)', async () => {
    const server = await serve(scriptedStream([['id: e1\ndata: a\n\nid: e2\ndata: b\n\n']], { hold: true }))
    const storage = memoryStorage()
    const first = open(server.url('/events?channel=x'), { storage })
    const recorder = record(first)
    await recorder.until(() => recorder.of('message').length === 2)
    first.close()
    assert.deepEqual([...storage.map], [[`ssehub:last-event-id:${server.url('/events?channel=x')}`, 'e2']])
    const second = open(server.url('/events?channel=x'), { storage })
    assert.equal(second.lastEventId, 'e2')
    await waitFor(() => server.requests.length === 2, 5000, 'second request')
    assert.equal(server.requests[1]?.headers['last-event-id'], 'e2')
    // An explicit lastEventId wins over the stored one; a custom key is honoured.
    const third = open(server.url('/events?channel=x'), { storage, lastEventId: 'given' })
    assert.equal(third.lastEventId, 'given')
    storage.map.set('mine', 'custom')
    const fourth = open(server.url('/events?channel=x'), { storage, storageKey: 'mine' })
    assert.equal(fourth.lastEventId, 'custom')
  })

  test('removes the stored id when the stream resets it with an empty id', async () => {
    let stored = (): void => {}
    const written = new Promise<void>((resolve) => {
      stored = resolve
    })
    const server = await serve(async (_req, res) => {
      res.writeHead(200, SSE_HEAD)
      res.write('id: e1\ndata: a\n\n')
      // The reset only once the first id is stored (one chunk would store nothing at all).
      await written
      res.write('id\ndata: b\n\n')
    })
    const storage = memoryStorage()
    const client = open(server.url(), { storage })
    const recorder = record(client)
    await waitFor(() => storage.map.size === 1, 5000, 'stored')
    stored()
    await recorder.until(() => recorder.of('message').length === 2)
    assert.equal(storage.map.size, 0)
  })

  test('ignores a storage that throws', async () => {
    const server = await serve(scriptedStream([['id: e1\ndata: a\n\n']], { hold: true }))
    const client = open(server.url(), { storage: memoryStorage(true) })
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    assert.equal(client.lastEventId, 'e1')
    assert.deepEqual(recorder.of('error'), [])
  })
})

test('SseClientError carries code, status and cause', () => {
  const cause = new Error('x')
  const error = new SseClientError('SSE_ERR_CLIENT_STATUS', 'Status 500.', { status: 500, cause })
  assert.equal(error.name, 'SseClientError')
  assert.equal(error.code, 'SSE_ERR_CLIENT_STATUS')
  assert.equal(error.status, 500)
  assert.equal(error.cause, cause)
  assert.ok(error instanceof Error)
})
