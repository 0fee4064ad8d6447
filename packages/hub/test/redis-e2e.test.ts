/**
 * End to end on a real Redis: three `ssehub serve --redis` processes, subscribers and publishers
 * on each, then `kill -9` of one of them while publishing goes on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect, type SseClient } from '@ssehub/client'
import { parseHubId } from '@ssehub/core'
import { openSse, RedisServer, redisSkip, type SseStream, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { type HubProcess, publishTo, startHubProcess } from './redis-hubs.js'

const skip = redisSkip('binary')

describe('three ssehub serve --redis processes on one Redis', { skip }, () => {
  let redis: RedisServer
  let hubs: HubProcess[] = []
  const streams: SseStream[] = []
  const clients: SseClient[] = []

  before(async () => {
    redis = await RedisServer.start()
    const prefix = `e2e-${process.pid}:`
    hubs = await withTimeout(
      Promise.all(
        [0, 1, 2].map(() =>
          startHubProcess([
            '--redis',
            redis.url,
            '--redis-prefix',
            prefix,
            '--retry-ms',
            '50',
            '--heartbeat-ms',
            '1000',
          ]),
        ),
      ),
      30_000,
      'three hubs',
    )
  })

  after(async () => {
    for (const client of clients) client.close()
    for (const stream of streams) stream.close()
    for (const hub of hubs) await hub.kill().catch(() => {})
    await redis?.close()
  })

  /** Opens a stream and waits until its replay is done (the hub's first id), so it sees all that follows. */
  const subscribe = async (hub: HubProcess, channel: string): Promise<SseStream> => {
    const stream = await openSse(hub.at(`events?channel=${encodeURIComponent(channel)}`))
    streams.push(stream)
    assert.equal(stream.status, 200)
    await waitFor(() => stream.lastEventId !== '', 5000, 'first id')
    return stream
  }

  it('delivers every event published on any hub to every subscriber on every hub exactly once, in one order', async () => {
    const subscribers: SseStream[] = []
    for (const hub of hubs) {
      subscribers.push(await subscribe(hub, 'e2e'), await subscribe(hub, 'e2e'), await subscribe(hub, 'e2e*'))
    }
    const perPublisher = 100
    // One publisher per hub, all at once; each publishes in order.
    await withTimeout(
      Promise.all(
        hubs.map(async (hub, h) => {
          for (let i = 0; i < perPublisher; i++) {
            const answer = await publishTo(hub, { channel: 'e2e', data: `${h}:${i}` })
            assert.equal(answer.status, 200, JSON.stringify(answer.body))
          }
        }),
      ),
      30_000,
      'publishing',
    )
    const total = perPublisher * hubs.length
    for (const stream of subscribers) await stream.waitForEvents(total, 10_000)
    await sleep(200) // nothing more (no duplicate) may arrive
    const reference = subscribers[0]?.events.map((event) => event.id) ?? []
    assert.equal(new Set(reference).size, total, 'every id once')
    let previous = 0
    for (const id of reference) {
      const seq = parseHubId(id ?? '')?.seq ?? 0
      assert.ok(seq > previous, `ids grow: ${id}`)
      previous = seq
    }
    for (const stream of subscribers) {
      assert.equal(stream.events.length, total)
      assert.deepEqual(
        stream.events.map((event) => event.id),
        reference,
        'the same events in the same order',
      )
      const datas = stream.events.map((event) => event.data)
      assert.equal(new Set(datas).size, total, 'every event exactly once')
      for (let h = 0; h < hubs.length; h++) {
        const mine = datas.filter((data) => data.startsWith(`${h}:`))
        assert.deepEqual(
          mine,
          Array.from({ length: perPublisher }, (_, i) => `${h}:${i}`),
          `publisher ${h} in its order`,
        )
      }
    }
  })

  it('lets the clients of a hub killed with kill -9 resume on a surviving hub with Last-Event-ID, without gap or duplicate', async () => {
    const [survivorA, survivorB, victim] = hubs as [HubProcess, HubProcess, HubProcess]
    const total = 300
    const killAt = 100
    const control = await subscribe(survivorA, 'failover')
    // Clients behind a "load balancer" that sends each attempt to the next hub, starting with the victim.
    const runs = [0, 1, 2].map(() => {
      const order = [victim, survivorA, survivorB]
      const attempts: { hub: string; lastEventId: string }[] = []
      const datas: string[] = []
      let resets = 0
      const client = connect('http://ssehub.invalid/events?channel=failover', {
        fetch: (url, init) => {
          const hub = order[attempts.length % order.length] as HubProcess
          attempts.push({ hub: hub.url, lastEventId: new Headers(init.headers).get('last-event-id') ?? '' })
          return fetch(hub.at(`events${new URL(url).search}`), init)
        },
        retryMs: 50,
        maxRetryMs: 250,
        heartbeatMs: 1000,
      })
      clients.push(client)
      client.addEventListener('message', (event) => datas.push(event.data))
      client.addEventListener('reset', () => resets++)
      return { client, attempts, datas, resets: () => resets }
    })
    await waitFor(() => runs.every((run) => run.client.readyState === 1), 5000, 'clients open on the victim')
    await sleep(100) // past their (empty) replay
    let killed: Promise<void> | undefined
    let atKill: number[] = []
    for (let i = 0; i < total; i++) {
      const answer = await publishTo(i % 2 === 0 ? survivorA : survivorB, {
        channel: 'failover',
        data: String(i),
      })
      assert.equal(answer.status, 200, JSON.stringify(answer.body))
      if (i === killAt) {
        killed = victim.kill()
        atKill = runs.map((run) => run.datas.length)
      }
      await sleep(2)
    }
    await withTimeout(killed ?? Promise.resolve(), 5000, 'kill')
    const expected = Array.from({ length: total }, (_, i) => String(i))
    await waitFor(() => runs.every((run) => run.datas.length >= total), 15_000, 'every client caught up')
    await control.waitForEvents(total, 5000)
    await sleep(200)
    assert.deepEqual(
      control.events.map((event) => event.data),
      expected,
    )
    for (const count of atKill)
      assert.ok(count > 0 && count < total, `mid-stream when killed (${count} received)`)
    for (const run of runs) {
      assert.deepEqual(run.datas, expected, 'the complete sequence, no gap, no duplicate')
      assert.equal(run.resets(), 0, 'resumed, not reset')
      assert.equal(run.attempts[0]?.hub, victim.url)
      const resumed = run.attempts.slice(1).find((attempt) => attempt.hub !== victim.url)
      assert.ok(resumed !== undefined, 'reconnected to a surviving hub')
      assert.notEqual(resumed.lastEventId, '', 'with Last-Event-ID')
    }
  })
})
