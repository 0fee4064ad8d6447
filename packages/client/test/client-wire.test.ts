/**
 * The WIRE.md parsing rules end to end: a test server writes exact bytes, split at awkward
 * places, and the client must dispatch exactly what a conforming browser would.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { connect } from '@ssehub/client'
import { record, SSE_HEAD, scriptedStream, startServer, type TestServer, writeChunks } from './helpers.js'

const servers: TestServer[] = []
const clients: { close(): void }[] = []
after(async () => {
  for (const client of clients) client.close()
  for (const server of servers) await server.close()
})

const encoder = new TextEncoder()

/** Serves `chunks` once, and collects what a non-reconnecting client dispatches until it closes. */
async function dispatched(
  chunks: readonly (string | Uint8Array)[],
  options: { types?: string[]; contentType?: string; maxBufferSize?: number } = {},
): Promise<{ type: string; data?: unknown; lastEventId?: string; code?: string }[]> {
  const headers = options.contentType === undefined ? {} : { 'content-type': options.contentType }
  const server = await startServer(scriptedStream([chunks], { headers }))
  servers.push(server)
  const client = connect(server.url('/events'), {
    reconnect: false,
    ...(options.maxBufferSize === undefined ? {} : { maxBufferSize: options.maxBufferSize }),
  })
  clients.push(client)
  const recorder = record(client, options.types ?? ['message'])
  await recorder.closed()
  return recorder.log.filter(
    (entry) => !['open', 'close'].includes(entry.type) && entry.code !== 'SSE_ERR_CLIENT_ENDED',
  )
}

/** Splits `bytes` into pieces of the given sizes (the rest goes last). */
function split(bytes: Uint8Array, ...sizes: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = []
  let at = 0
  for (const size of sizes) {
    pieces.push(bytes.subarray(at, at + size))
    at += size
  }
  pieces.push(bytes.subarray(at))
  return pieces
}

describe('client parsing, end to end (WIRE.md)', () => {
  test('dispatches the standard worked example with data and sticky ids', async () => {
    const events = await dispatched([
      ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n',
    ])
    assert.deepEqual(events, [
      { type: 'message', data: 'first event', lastEventId: '1' },
      { type: 'message', data: 'second event', lastEventId: '' },
      { type: 'message', data: ' third event', lastEventId: '' },
    ])
  })

  test('fires empty data and a lone LF, and discards an unterminated last event', async () => {
    const events = await dispatched(['data\n\ndata\ndata\n\ndata:'])
    assert.deepEqual(
      events.map((event) => event.data),
      ['', '\n'],
    )
  })

  test('joins multi-line data with LF and keeps named event types', async () => {
    const events = await dispatched(['event: price\ndata: YHOO\ndata: +2\ndata: 10\n\n'], {
      types: ['price'],
    })
    assert.deepEqual(events, [{ type: 'price', data: 'YHOO\n+2\n10', lastEventId: '' }])
  })

  test('treats a CRLF split across two chunks as one line end', async () => {
    const events = await dispatched(['data: a\r', '\ndata: b\r\n\r', '\n', 'data: c\r\r'])
    assert.deepEqual(
      events.map((event) => event.data),
      ['a\nb', 'c'],
    )
  })

  test('accepts LF, CR and CRLF line ends mixed in one stream', async () => {
    const events = await dispatched(['data: 1\rdata: 2\ndata: 3\r\n\ndata: 4\r\r'])
    assert.deepEqual(
      events.map((event) => event.data),
      ['1\n2\n3', '4'],
    )
  })

  test('strips one leading BOM split across chunks and ignores the line a second BOM starts', async () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf])
    const first = await dispatched([bom.subarray(0, 1), bom.subarray(1), 'data: after bom\n\n'])
    assert.deepEqual(
      first.map((event) => event.data),
      ['after bom'],
    )
    const second = await dispatched([encoder.encode('\uFEFF\uFEFFdata: ignored\n\ndata: kept\n\n')])
    assert.deepEqual(
      second.map((event) => event.data),
      ['kept'],
    )
  })

  test('decodes multi-byte UTF-8 characters split across chunks, whatever the declared charset', async () => {
    const bytes = encoder.encode('data: é€😀 ok\n\n')
    // é is 2 bytes, € 3, 😀 4: cut inside each of them.
    const events = await dispatched(split(bytes, 7, 2, 2, 3, 1), {
      contentType: 'Text/Event-Stream; charset=iso-8859-1',
    })
    assert.deepEqual(
      events.map((event) => event.data),
      ['é€😀 ok'],
    )
  })

  test('applies the field rules: one space stripped, case-sensitive names, NUL ids and bad retry ignored', async () => {
    const events = await dispatched([
      'Data: ignored\ndata:\tx\ndata:  y\nid: a\u0000b\nretry: 1x\nunknown: z\n\n',
      'data: with nul \u0000 inside\n\n',
    ])
    assert.deepEqual(events, [
      { type: 'message', data: '\tx\n y', lastEventId: '' },
      { type: 'message', data: 'with nul \u0000 inside', lastEventId: '' },
    ])
  })

  test('dispatches nothing for comments, heartbeats and blocks without data', async () => {
    const events = await dispatched([':\n\n: ping\n\nevent: x\n\nid: 9\n\n', 'data: only\n\n'])
    assert.deepEqual(events, [{ type: 'message', data: 'only', lastEventId: '9' }])
  })

  test('reports an overflowing line as an error event and goes on with the stream', async () => {
    const events = await dispatched(
      [`data: ${'x'.repeat(100)}`, `${'x'.repeat(100)}\n\n`, 'data: small\n\n'],
      {
        maxBufferSize: 64,
      },
    )
    assert.deepEqual(events, [
      { type: 'error', code: 'SSE_ERR_CLIENT_BUFFER_OVERFLOW' },
      { type: 'message', data: 'small', lastEventId: '' },
    ])
  })

  test('gives every event the origin of the stream', async () => {
    const server = await startServer(scriptedStream([['data: x\n\n']]))
    servers.push(server)
    const client = connect(server.url('/e'), { reconnect: false })
    clients.push(client)
    const origin = await new Promise<string>((resolve) => {
      client.onmessage = (event) => resolve(event.origin)
    })
    assert.equal(origin, server.origin)
  })
})

describe('client Last-Event-ID bookkeeping over the wire', () => {
  test('an id-only block (the hub cursor) moves lastEventId and the next request sends it', async () => {
    const server = await startServer(
      scriptedStream([['retry: 1\n\nid: cursor.1\n\n'], [': quiet\n\n']], { hold: false }),
    )
    servers.push(server)
    const client = connect(server.url('/events'), { retryMs: 1 })
    clients.push(client)
    const recorder = record(client)
    await recorder.until(() => server.requests.length >= 2)
    client.close()
    assert.equal(recorder.of('message').length, 0)
    assert.equal(server.requests[0]?.headers['last-event-id'], undefined)
    assert.equal(server.requests[1]?.headers['last-event-id'], 'cursor.1')
  })

  test('an empty id field resets lastEventId, so the next request sends no header', async () => {
    const server = await startServer(
      scriptedStream([['retry: 1\nid: 7\ndata: a\n\n'], ['id\ndata: b\n\n'], [': end\n\n']]),
    )
    servers.push(server)
    const client = connect(server.url('/events'), { retryMs: 1 })
    clients.push(client)
    const recorder = record(client)
    await recorder.until(() => server.requests.length >= 3)
    client.close()
    assert.deepEqual(
      server.requests.slice(0, 3).map((request) => request.headers['last-event-id']),
      [undefined, '7', undefined],
    )
    assert.deepEqual(
      recorder.of('message').map((event) => event.lastEventId),
      ['7', ''],
    )
  })

  test('discards the id of an event cut off by the end of the stream', async () => {
    const server = await startServer(
      scriptedStream([['retry: 1\nid: 1\ndata: complete\n\nid: 2\ndata: cut'], [': end\n\n']]),
    )
    servers.push(server)
    const client = connect(server.url('/events'), { retryMs: 1 })
    clients.push(client)
    const recorder = record(client)
    await recorder.until(() => server.requests.length >= 2)
    client.close()
    assert.deepEqual(
      recorder.of('message').map((event) => event.data),
      ['complete'],
    )
    assert.equal(server.requests[1]?.headers['last-event-id'], '1')
  })

  test('sends Accept and Cache-Control on every request', async () => {
    const server = await startServer(async (_req, res) => {
      res.writeHead(200, SSE_HEAD)
      await writeChunks(res, ['data: x\n\n'])
      res.end()
    })
    servers.push(server)
    const client = connect(server.url('/events'), { reconnect: false })
    clients.push(client)
    await record(client).closed()
    assert.equal(server.requests[0]?.headers.accept, 'text/event-stream')
    assert.equal(server.requests[0]?.headers['cache-control'], 'no-cache')
  })
})
