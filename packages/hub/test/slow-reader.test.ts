import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { floodUntilDropped, openStalledStream, startHub } from './helpers.js'

function connections(server: import('node:http').Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  )
}

test('disconnects a client that never reads, keeping the hub memory bounded', async (t) => {
  const hub = await startHub({ maxQueueBytes: 256 * 1024, maxQueueEvents: 100, historyLimit: 5 })
  t.after(() => hub.close())
  await openStalledStream(t, hub, 'flood')
  const before = process.memoryUsage().rss
  const published = await floodUntilDropped(hub, 'flood', 'x'.repeat(64 * 1024))
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
  await openStalledStream(t, hub, 'mixed')
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
