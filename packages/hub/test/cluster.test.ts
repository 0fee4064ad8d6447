import assert from 'node:assert/strict'
import { get } from 'node:http'
import { after, describe, it } from 'node:test'
import { type BrokerEvent, type BrokerGap, MemoryBroker } from '@ssehub/core'
import { openSse, runBrokerConformance, waitFor, withTimeout } from '@ssehub/testkit'
import { IpcBroker, type IpcMessage, type IpcPort, serveBroker } from '../src/cluster/ipc-broker.js'
import { type HubProcess, runCli, startHubProcess } from './redis-hubs.js'

/** GET on a fresh connection (no keep-alive pool), so the cluster may route it to any worker. */
async function healthOf(url: string): Promise<{ sessions: number }> {
  return JSON.parse(await getText(url))
}

function getText(url: string): Promise<string> {
  return withTimeout(
    new Promise((resolve, reject) => {
      get(url, { agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve(body))
      }).on('error', reject)
    }),
    10_000,
    `GET ${url}`,
  )
}

/**
 * Two connected ports, as the cluster's IPC channel: messages go through a JSON round trip (what
 * `process.send` does) and arrive asynchronously, in order. `hold` keeps the `done` callbacks of
 * one side until released, as a worker that does not read its IPC channel would.
 */
function portPair(): { worker: IpcPort; primary: IpcPort; hold(): void; release(): void } {
  const listeners = { worker: new Set<(m: unknown) => void>(), primary: new Set<(m: unknown) => void>() }
  let held: Array<() => void> | undefined
  const end = (to: 'worker' | 'primary'): IpcPort => ({
    send(message: IpcMessage, done) {
      const copy = JSON.parse(JSON.stringify(message))
      setImmediate(() => {
        for (const listener of listeners[to]) listener(copy)
        if (done === undefined) return
        if (held !== undefined && to === 'worker') held.push(() => done(null))
        else done(null)
      })
    },
    onMessage(listener) {
      const own = to === 'worker' ? listeners.primary : listeners.worker
      own.add(listener)
      return () => own.delete(listener)
    },
  })
  return {
    // The worker's port sends to the primary, and the other way round.
    worker: end('primary'),
    primary: end('worker'),
    hold: () => {
      held = []
    },
    release: () => {
      const callbacks = held ?? []
      held = undefined
      for (const callback of callbacks) callback()
    },
  }
}

runBrokerConformance({
  name: 'IpcBroker (cluster workers over IPC to the primary)',
  createCluster: async (nodes, history) => {
    const primary = new MemoryBroker(history)
    const stops: Array<() => void> = []
    const brokers = Array.from({ length: nodes }, () => {
      const pair = portPair()
      stops.push(serveBroker(primary, pair.primary))
      return new IpcBroker(pair.worker)
    })
    return {
      brokers,
      wipe: async () => primary.bus.wipe(),
      cleanup: async () => {
        for (const broker of brokers) await broker.close()
        for (const stop of stops) stop()
        await primary.close()
      },
    }
  },
})

describe('IpcBroker', () => {
  it('drops events for a worker that falls behind, then reports the gap once it catches up', async () => {
    const primary = new MemoryBroker()
    const pair = portPair()
    const stop = serveBroker(primary, pair.primary, { maxInFlight: 2 })
    const broker = new IpcBroker(pair.worker)
    const events: BrokerEvent[] = []
    const gaps: BrokerGap[] = []
    broker.subscribe(
      ['c'],
      (event) => events.push(event),
      (gap) => gaps.push(gap),
    )
    await withTimeout(broker.replay(undefined, ['c'], 10), 2000, 'subscribed')
    pair.hold()
    for (let i = 1; i <= 5; i++) await primary.publish('c', { data: `e${i}` })
    await waitFor(() => events.length === 2, 2000, 'the first two events')
    assert.equal(gaps.length, 0, 'no gap while the worker is still behind')
    pair.release()
    await waitFor(() => gaps.length === 1, 2000, 'the gap')
    assert.deepEqual(
      events.map((event) => event.data),
      ['e1', 'e2'],
    )
    assert.deepEqual(gaps[0], { epoch: events[0]?.epoch, seq: 5, reason: 'trimmed' })
    await primary.publish('c', { data: 'e6' })
    await waitFor(() => events.length === 3, 2000, 'delivery resumes')
    await broker.close()
    stop()
    await primary.close()
  })

  it('fails requests with SSE_ERR_BROKER_UNAVAILABLE when the primary does not answer in time', async () => {
    const silent: IpcPort = { send() {}, onMessage: () => () => {} }
    const broker = new IpcBroker(silent, { timeoutMs: 50, maxPending: 1 })
    const first = broker.publish('c', { data: 'x' })
    await assert.rejects(broker.publish('c', { data: 'y' }), { code: 'SSE_ERR_BROKER_UNAVAILABLE' })
    await assert.rejects(first, { code: 'SSE_ERR_BROKER_UNAVAILABLE' })
    await broker.close()
    await assert.rejects(broker.publish('c', { data: 'z' }), { code: 'SSE_ERR_BROKER_CLOSED' })
  })

  it('carries broker errors across with their code and field', async () => {
    const primary = new MemoryBroker()
    const pair = portPair()
    const stop = serveBroker(primary, pair.primary)
    const broker = new IpcBroker(pair.worker)
    await broker.publish('c', { data: 'x', id: 'mine' })
    await assert.rejects(broker.publish('c', { data: 'y', id: 'mine' }), { code: 'SSE_ERR_ID_DUPLICATE' })
    await broker.close()
    stop()
    await primary.close()
  })
})

describe('ssehub serve --workers', () => {
  const hubs: HubProcess[] = []
  after(async () => {
    for (const hub of hubs) await hub.kill()
  })

  it('serves from 2 workers sharing one port and one log, and exits 0 on SIGTERM', async () => {
    const hub = await startHubProcess(['--workers', '2', '--heartbeat-ms', 'off'])
    hubs.push(hub)
    assert.match(hub.stdout(), /workers {4}2 \(broker: memory, in the primary\)/)
    // Connections are handed out round-robin: 6 streams land on both workers.
    const streams = await Promise.all(
      Array.from({ length: 6 }, () => openSse(hub.at('events?channel=news'), { timeoutMs: 10_000 })),
    )
    const published: string[] = []
    for (let i = 0; i < 20; i++) {
      const response = await fetch(hub.at('publish'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'news', data: `n${i}` }),
      })
      assert.equal(response.status, 200)
      published.push(((await response.json()) as { id: string }).id)
    }
    for (const stream of streams) {
      await stream.waitForEvents(20, 10_000)
      assert.deepEqual(
        stream.events.map((event) => event.data),
        published.map((_, i) => `n${i}`),
      )
      assert.deepEqual(
        stream.events.map((event) => event.id),
        published,
        'one id space across workers',
      )
    }
    // Both workers hold streams: /healthz, on fresh connections, never counts all six.
    const counts = new Set<number>()
    for (let i = 0; i < 4; i++) counts.add((await healthOf(hub.at('healthz'))).sessions)
    assert.ok(![...counts].includes(6), `sessions per worker: ${[...counts].join(', ')}`)
    // Whichever worker answers a scrape, it gives the whole cluster's figures, summed.
    for (let i = 0; i < 3; i++) {
      const text = await getText(hub.at('metrics'))
      assert.match(text, /^ssehub_connections_open 6$/m)
      assert.match(text, /^ssehub_events_published_total 20$/m)
      assert.match(text, /^ssehub_events_delivered_total 120$/m)
    }
    // Resume on whichever worker: replay after the 10th id gives the last 10.
    const resumed = await openSse(hub.at('events?channel=news'), {
      headers: { 'last-event-id': published[9] ?? '' },
      timeoutMs: 10_000,
    })
    await resumed.waitForEvents(10, 10_000)
    assert.deepEqual(
      resumed.events.map((event) => event.id),
      published.slice(10),
    )
    for (const stream of [...streams, resumed]) stream.close()
    assert.equal(await hub.stop(), 0)
  })

  it('exits 1 when its workers cannot listen (the port is taken)', async () => {
    const first = await startHubProcess([])
    hubs.push(first)
    const port = new URL(first.url).port
    const run = runCli(['serve', '--workers', '2', '--port', port, '--host', '127.0.0.1'])
    const code = await withTimeout(run.exited, 30_000, 'cluster exit')
    assert.equal(code, 1, run.stderr())
    assert.match(run.stderr(), /failed to start/)
  })
})
