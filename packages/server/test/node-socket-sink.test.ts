import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { type CloseReason, createHub, type Hub } from '@ssehub/core'
import { serveSse } from '@ssehub/server/node'
import { waitFor, withTimeout } from '@ssehub/testkit'
import { nextTurn, rawSse, startServer, type TestServer } from './node-fixtures.js'

// A full collection on demand, to check what a stream leaves referenced (node:test has no --expose-gc).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await nextTurn()
  }
}

const cleanups: (() => unknown)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

interface Served {
  hub: Hub
  http: TestServer
  /** The server side of each connection, with a count of its `write` calls. */
  sockets: Array<{ socket: Socket; writes: number }>
  requests: Array<WeakRef<IncomingMessage>>
  responses: Array<WeakRef<ServerResponse>>
  closed: CloseReason[]
}

async function serve(): Promise<Served> {
  const hub = createHub({ heartbeatMs: false, retryMs: false })
  const served: Omit<Served, 'http'> = { hub, sockets: [], requests: [], responses: [], closed: [] }
  const http = await startServer((req, res) => {
    served.requests.push(new WeakRef(req))
    served.responses.push(new WeakRef(res))
    serveSse(hub, req, res, { channels: ['news'], onClose: (reason) => served.closed.push(reason) })
  })
  http.server.on('connection', (socket: Socket) => {
    const entry = { socket, writes: 0 }
    served.sockets.push(entry)
    const write = socket.write
    // Counts every write that reaches the socket (the head, the events, the end).
    socket.write = function (this: Socket, ...args: unknown[]) {
      entry.writes++
      return (write as (...a: unknown[]) => boolean).apply(this, args)
    } as Socket['write']
  })
  cleanups.push(
    () => http.close(),
    () => hub.close(),
  )
  return { ...served, http }
}

describe('the node adapter over HTTP/1.1 (socket sink)', () => {
  it('coalesces the events of one event-loop turn into one socket write, in order', async () => {
    const { hub, http, sockets } = await serve()
    const client = await rawSse(http.port, '/')
    cleanups.push(() => client.close())
    await waitFor(() => hub.subscriberCount('news') === 1, 2000, 'subscribed')
    await nextTurn()
    await nextTurn()
    const entry = sockets[0]
    assert.ok(entry !== undefined)
    const before = entry.writes
    // Eight events in one turn: the memory broker delivers each in its own microtask.
    await Promise.all(Array.from({ length: 8 }, (_, i) => hub.publish('news', `event ${i}`)))
    await client.until(() => client.events.length === 8, 2000, 'eight events')
    assert.deepEqual(
      client.events.map((event) => event.data),
      Array.from({ length: 8 }, (_, i) => `event ${i}`),
    )
    assert.equal(entry.writes - before, 1, 'one socket write for the whole burst')
  })

  it('still streams through the response when a request is pipelined behind the stream', async () => {
    const { hub, http } = await serve()
    const { connect } = await import('node:net')
    const socket = connect(http.port, '127.0.0.1')
    cleanups.push(() => socket.destroy())
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (part: string) => {
      text += part
    })
    // The stream and, in the same packet, another request behind it: the parser already holds
    // that one, so the socket must not be taken from it.
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')
    // Node calls the handler for both; the second response waits behind the first.
    await waitFor(() => hub.subscriberCount('news') === 2 && text.includes('\r\n\r\n'), 2000, 'head')
    await nextTurn()
    await hub.publish('news', 'still here')
    await waitFor(() => text.includes('data: still here\n\n'), 2000, 'the event through the response')
    assert.match(text, /transfer-encoding: chunked/i)
  })

  it('lets the request and response go once streaming, and everything once the client leaves', async () => {
    const { hub, http, requests, responses, closed, sockets } = await serve()
    const client = await rawSse(http.port, '/')
    await waitFor(() => hub.subscriberCount('news') === 1, 2000, 'subscribed')
    await nextTurn()
    await hub.publish('news', 'one')
    await client.until(() => client.events.length === 1, 2000, 'first event')
    await collect()
    assert.equal(requests[0]?.deref(), undefined, 'the request was collected')
    assert.equal(responses[0]?.deref(), undefined, 'the response was collected')
    // Still streaming without them.
    await hub.publish('news', 'two')
    await client.until(() => client.events.length === 2, 2000, 'second event')

    const socket = new WeakRef(sockets[0]?.socket as Socket)
    sockets.length = 0
    client.close()
    await waitFor(() => closed.length === 1, 2000, 'session closed')
    assert.deepEqual(closed, ['disconnect'])
    assert.equal(hub.stats().sessions, 0)
    await waitFor(() => socket.deref()?.destroyed !== false, 2000, 'socket closed')
    await collect()
    assert.equal(socket.deref(), undefined, 'the socket was collected')
  })

  it('still answers the peer address of a taken-over socket, which keeps no cached copy', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false })
    const seen: string[] = []
    const sockets: Array<Socket & { parser?: unknown; _peername?: unknown }> = []
    const http = await startServer((req, res) => {
      // Read (and so cached by Node on the socket) before the stream starts, as the hub does.
      seen.push(req.socket.remoteAddress ?? '')
      sockets.push(req.socket)
      serveSse(hub, req, res, { channels: ['news'] })
    })
    cleanups.push(
      () => http.close(),
      () => hub.close(),
    )
    const client = await rawSse(http.port, '/')
    cleanups.push(() => client.close())
    await waitFor(() => sockets[0]?.parser === null, 2000, 'taken over')
    const socket = sockets[0] as (typeof sockets)[number]
    assert.deepEqual(seen, ['127.0.0.1'])
    assert.equal(socket._peername, undefined, 'the cached peer name was let go')
    assert.equal(socket.remoteAddress, '127.0.0.1')
    assert.equal(socket.remotePort, client.socket.localPort)
    await hub.publish('news', 'still streaming')
    await client.until(() => client.events.length === 1, 2000, 'an event')
  })

  it('ends with the last chunk and closes the connection when the session closes', async () => {
    const { hub, http } = await serve()
    const client = await rawSse(http.port, '/')
    cleanups.push(() => client.close())
    await waitFor(() => hub.subscriberCount('news') === 1, 2000, 'subscribed')
    await nextTurn()
    await hub.publish('news', 'last words')
    for (const session of [...hub.sessions()]) session.close()
    await client.until(() => client.bodyEnded && client.closed, 2000, 'ended and closed')
    assert.deepEqual(
      client.events.map((event) => event.data),
      ['last words'],
    )
  })

  it('is closed by server.closeAllConnections() like any connection', async () => {
    const { hub, http, closed } = await serve()
    const client = await rawSse(http.port, '/')
    cleanups.push(() => client.close())
    await waitFor(() => hub.subscriberCount('news') === 1, 2000, 'subscribed')
    await nextTurn()
    await nextTurn()
    http.server.closeAllConnections()
    await client.until(() => client.closed, 2000, 'closed by the server')
    await waitFor(() => closed.length === 1, 2000, 'session closed')
    assert.deepEqual(closed, ['disconnect'])
  })

  it('sends a burst bigger than its coalescing bound at once, honouring backpressure', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false, maxQueueEvents: 100_000 })
    const http = await startServer((req, res) => void serveSse(hub, req, res, { channels: ['big'] }))
    cleanups.push(
      () => http.close(),
      () => hub.close(),
    )
    const client = await rawSse(http.port, '/')
    cleanups.push(() => client.close())
    await waitFor(() => hub.subscriberCount('big') === 1, 2000, 'subscribed')
    const data = 'y'.repeat(1000)
    // 400 KB in one turn: well past the 64 KiB bound, so written before the turn ends.
    await Promise.all(Array.from({ length: 400 }, () => hub.publish('big', data)))
    await client.until(() => client.events.length === 400, 5000, 'every event')
    assert.ok(client.events.every((event) => event.data === data))
  })
})
