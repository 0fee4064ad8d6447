import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { startHub } from './helpers.js'

function connections(server: import('node:http').Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  )
}

test('disconnects a client that never reads, keeping the hub memory bounded', async (t) => {
  const hub = await startHub({ maxQueueBytes: 256 * 1024, maxQueueEvents: 100, historyLimit: 5 })
  t.after(() => hub.close())
  const socket = connect(Number(hub.url.port), '127.0.0.1')
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  await withTimeout(new Promise((resolve) => socket.once('connect', resolve)), 2000, 'connect')
  socket.write(
    `GET /events?channel=flood HTTP/1.1\r\nHost: ${hub.url.host}\r\nAccept: text/event-stream\r\n\r\n`,
  )
  // Never read: the kernel buffers fill, then the server's write() reports backpressure.
  socket.pause()
  await waitFor(() => hub.hub.subscriberCount('flood') === 1, 2000, 'subscribed')

  const chunk = 'x'.repeat(64 * 1024)
  const before = process.memoryUsage().rss
  let published = 0
  await withTimeout(
    (async () => {
      while (hub.hub.stats().sessions > 0) {
        await hub.hub.publish('flood', chunk)
        published++
        // Yield, so that the socket drains into the kernel buffers until they are full too.
        await sleep(0)
        assert.ok(published < 20_000, 'the session was never disconnected')
      }
    })(),
    20_000,
    'overflow disconnect',
  )
  // The server side of the connection is gone too, not left holding buffered output.
  await waitFor(() => hub.hub.stats().routes === 0, 2000, 'routes released')
  const open = await withTimeout(
    (async () => {
      for (let i = 0; i < 200; i++) {
        if ((await connections(hub.server)) === 0) return 0
        await sleep(10)
      }
      return connections(hub.server)
    })(),
    5000,
    'connection count',
  )
  assert.equal(open, 0, 'the overflowing connection was destroyed')
  const growth = process.memoryUsage().rss - before
  assert.ok(
    growth < 64 * 1024 * 1024,
    `rss grew by ${Math.round(growth / 1024 / 1024)} MiB after ${published} events of 64 KiB`,
  )
})

test('keeps serving fast readers while a slow one is disconnected', async (t) => {
  const hub = await startHub({ maxQueueBytes: 128 * 1024, maxQueueEvents: 50 })
  t.after(() => hub.close())
  const slow = connect(Number(hub.url.port), '127.0.0.1')
  t.after(() => slow.destroy())
  slow.on('error', () => {})
  slow.write(`GET /events?channel=mixed HTTP/1.1\r\nHost: ${hub.url.host}\r\n\r\n`)
  slow.pause()
  const fast = await fetch(hub.at('events?channel=mixed'))
  assert.ok(fast.body)
  await waitFor(() => hub.hub.subscriberCount('mixed') === 2, 2000, 'two subscribers')
  const reader = fast.body.getReader()
  let bytes = 0
  const reading = (async () => {
    while (true) {
      const { done, value } = await reader.read()
      if (done) return
      bytes += value.byteLength
    }
  })()
  const chunk = 'y'.repeat(32 * 1024)
  await withTimeout(
    (async () => {
      while (hub.hub.subscriberCount('mixed') === 2) {
        await hub.hub.publish('mixed', chunk)
        await sleep(0)
      }
    })(),
    20_000,
    'slow reader disconnected',
  )
  await hub.hub.publish('mixed', 'still here')
  await waitFor(() => bytes > 0, 2000, 'fast reader received')
  assert.equal(hub.hub.subscriberCount('mixed'), 1)
  await reader.cancel()
  await reading.catch(() => {})
})
