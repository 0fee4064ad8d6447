import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { openSse, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { publishJson, startHub, type TestHub } from './helpers.js'

/** A raw connection that records what the server sends and when it closes. */
interface Raw {
  readonly socket: Socket
  received: string
  closed: boolean
}

async function raw(hub: TestHub, first: string): Promise<Raw> {
  const socket = connect(Number(hub.url.port), '127.0.0.1')
  const conn: Raw = { socket, received: '', closed: false }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    conn.received += chunk
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    conn.closed = true
  })
  await withTimeout(new Promise((resolve) => socket.once('connect', resolve)), 2000, 'connect')
  socket.write(first)
  return conn
}

test('cuts half-sent headers and bodies at their deadlines while the hub keeps serving', async (t) => {
  const hub = await startHub({ headersTimeoutMs: 600, requestTimeoutMs: 1500, bodyTimeoutMs: 600 })
  t.after(() => hub.close())
  const host = `Host: ${hub.url.host}\r\n`
  const conns: Raw[] = []
  t.after(() => {
    for (const conn of conns) conn.socket.destroy()
  })
  // Headers that never end, some trickling a byte at a time to look alive.
  for (let i = 0; i < 40; i++) conns.push(await raw(hub, `GET /events?channel=x HTTP/1.1\r\n${host}X-Slow: `))
  const headerConns = [...conns]
  // Bodies that never end: the headers arrived, the body stops short.
  const bodyConns: Raw[] = []
  for (let i = 0; i < 40; i++) {
    const conn = await raw(
      hub,
      `POST /publish HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"channel":"x","data":"`,
    )
    bodyConns.push(conn)
    conns.push(conn)
  }
  const trickle = setInterval(() => {
    for (const conn of [...headerConns.slice(0, 10), ...bodyConns.slice(0, 10)]) {
      if (!conn.closed) conn.socket.write('a')
    }
  }, 100)
  t.after(() => clearInterval(trickle))

  // Meanwhile, normal clients are served at once.
  const stream = await openSse(hub.at('events?channel=live'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.subscriberCount('live') === 1, 2000, 'subscribed')
  for (let i = 0; i < 20; i++) {
    const started = Date.now()
    assert.equal((await publishJson(hub, { channel: 'live', data: String(i) })).status, 200)
    assert.ok(Date.now() - started < 1000, 'a publish is answered promptly')
  }
  await stream.waitForEvents(20)

  // Every slow connection is cut: headers by headersTimeout (Node answers 408), bodies by the body
  // deadline (our 408 with a JSON code), trickling or not.
  await waitFor(() => conns.every((conn) => conn.closed), 6000, 'slow connections closed')
  clearInterval(trickle)
  for (const conn of headerConns) assert.match(conn.received, /^(HTTP\/1\.1 408|$)/, conn.received)
  for (const conn of bodyConns) {
    assert.match(conn.received, /^HTTP\/1\.1 408/)
    assert.match(conn.received, /SSEHUB_ERR_BODY_TIMEOUT|Request Timeout/)
  }
  assert.ok(
    bodyConns.some((conn) => conn.received.includes('SSEHUB_ERR_BODY_TIMEOUT')),
    'the body deadline answers with its code',
  )
  assert.equal(stream.ended, false, 'the event stream was not cut with them')
})

test('an event stream outlives requestTimeout and headersTimeout', async (t) => {
  const hub = await startHub({ headersTimeoutMs: 300, requestTimeoutMs: 500, heartbeatMs: false })
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events?channel=long'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.subscriberCount('long') === 1, 2000, 'subscribed')
  await publishJson(hub, { channel: 'long', data: 'first' })
  await stream.waitForEvents(1)
  // Quiet for four request timeouts: no byte flows, yet the stream must stay open.
  await sleep(2000)
  assert.equal(stream.ended, false)
  await publishJson(hub, { channel: 'long', data: 'after 2 s' })
  const events = await stream.waitForEvents(2)
  assert.equal(events[1]?.data, 'after 2 s')
  assert.equal(hub.hub.stats().sessions, 1)
})
