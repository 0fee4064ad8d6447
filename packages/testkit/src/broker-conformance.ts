import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Broker, BrokerEvent, ReplayResult } from '@ssehub/core'
import { isSseError, parseHubId } from '@ssehub/core'
import { sleep, waitFor, withTimeout } from './deadline.js'

/** History bounds a conformance case asks its broker for. */
export interface ConformanceHistory {
  historyLimit?: number
  historyTtlMs?: number | false
}

/** A set of brokers that are nodes of one cluster (sharing one log). */
export interface ConformanceCluster {
  brokers: Broker[]
  /** Makes the backend lose all history (memory: a wipe; Redis: FLUSHALL). */
  wipe?: () => Promise<void>
  cleanup: () => Promise<void>
}

export interface BrokerConformanceOptions {
  /** Shown in test titles. */
  name: string
  /** Creates `nodes` brokers sharing one fresh, empty log with the given history bounds. */
  createCluster: (nodes: number, history: ConformanceHistory) => Promise<ConformanceCluster>
  /** How long live delivery may take across nodes. @defaultValue 2000 */
  deliveryTimeoutMs?: number
}

const NO_LIMIT = 1_000_000

/** A subscription that records what it receives. */
function record(broker: Broker, selectors: readonly string[]) {
  const events: BrokerEvent[] = []
  const subscription = broker.subscribe(selectors, (event) => events.push(event))
  return { events, subscription }
}

function channelsAndData(events: readonly BrokerEvent[]): string[] {
  return events.map((event) => `${event.channel}:${event.data}`)
}

function assertComplete(result: ReplayResult): asserts result is Extract<ReplayResult, { complete: true }> {
  assert.equal(result.complete, true, `expected a complete replay, got ${JSON.stringify(result)}`)
}

/**
 * The conformance suite every broker must pass: ordering, ids, patterns, replay without gap or
 * duplicate, every reason a replay cannot be complete, idempotent close, and several nodes
 * converging on one order. Call it from a test file.
 */
export function runBrokerConformance(options: BrokerConformanceOptions): void {
  const deliveryMs = options.deliveryTimeoutMs ?? 2000
  const clusters: ConformanceCluster[] = []
  const cluster = async (nodes: number, history: ConformanceHistory = {}): Promise<ConformanceCluster> => {
    const created = await withTimeout(options.createCluster(nodes, history), 10_000, 'createCluster')
    clusters.push(created)
    return created
  }
  const single = async (history: ConformanceHistory = {}): Promise<Broker> => {
    const created = await cluster(1, history)
    const broker = created.brokers[0]
    assert.ok(broker)
    return broker
  }
  const publishAll = async (broker: Broker, channel: string, data: readonly string[]) => {
    const out: BrokerEvent[] = []
    for (const item of data)
      out.push(await withTimeout(broker.publish(channel, { data: item }), 5000, 'publish'))
    return out
  }
  const replay = (
    broker: Broker,
    afterId: string | undefined,
    selectors: readonly string[],
    limit = NO_LIMIT,
  ) => withTimeout(broker.replay(afterId, selectors, limit), 5000, 'replay')

  describe(`broker conformance: ${options.name}`, () => {
    after(async () => {
      for (const created of clusters.splice(0)) await withTimeout(created.cleanup(), 10_000, 'cleanup')
    })

    it('assigns increasing seqs and hub ids that carry the epoch', async () => {
      const broker = await single()
      const [a, b] = await publishAll(broker, 'news', ['1', '2'])
      assert.ok(a && b)
      assert.ok(b.seq > a.seq)
      assert.equal(a.epoch, b.epoch)
      assert.deepEqual(parseHubId(a.id), { epoch: a.epoch, seq: a.seq })
      assert.match(a.id, /^[0-9A-Za-z._-]{1,64}$/)
      assert.equal(a.channel, 'news')
      assert.equal(a.data, '1')
    })

    it('stores the event type, retry and a publisher id as given', async () => {
      const broker = await single()
      const event = await broker.publish('news', { data: 'x', event: 'headline', retry: 5000, id: 'order-1' })
      assert.equal(event.event, 'headline')
      assert.equal(event.retry, 5000)
      assert.equal(event.id, 'order-1')
      const plain = await broker.publish('news', { data: 'y' })
      assert.equal(plain.event, undefined)
      assert.equal(plain.retry, undefined)
    })

    it('delivers live events of subscribed channels only, in publish order', async () => {
      const broker = await single()
      const { events } = record(broker, ['a', 'b'])
      await publishAll(broker, 'a', ['1'])
      await publishAll(broker, 'c', ['x'])
      await publishAll(broker, 'b', ['2'])
      await publishAll(broker, 'a', ['3'])
      await waitFor(() => events.length >= 3, deliveryMs, 'live delivery')
      await sleep(20)
      assert.deepEqual(channelsAndData(events), ['a:1', 'b:2', 'a:3'])
    })

    it('matches trailing-star patterns by prefix and a lone star against everything', async () => {
      const broker = await single()
      const tasks = record(broker, ['tasks/*'])
      const all = record(broker, ['*'])
      await publishAll(broker, 'tasks/1', ['a'])
      await publishAll(broker, 'tasks/x/y', ['b'])
      await publishAll(broker, 'task', ['c'])
      await publishAll(broker, 'other', ['d'])
      await waitFor(() => all.events.length >= 4, deliveryMs, 'pattern delivery')
      assert.deepEqual(channelsAndData(tasks.events), ['tasks/1:a', 'tasks/x/y:b'])
      assert.deepEqual(channelsAndData(all.events), ['tasks/1:a', 'tasks/x/y:b', 'task:c', 'other:d'])
    })

    it('delivers an event matching several selectors of one subscription once', async () => {
      const broker = await single()
      const { events } = record(broker, ['tasks/1', 'tasks/*', '*'])
      await publishAll(broker, 'tasks/1', ['once'])
      await publishAll(broker, 'z', ['end'])
      await waitFor(() => events.length >= 2, deliveryMs, 'delivery')
      await sleep(20)
      assert.deepEqual(channelsAndData(events), ['tasks/1:once', 'z:end'])
    })

    it('stops delivering after unsubscribe, which is idempotent', async () => {
      const broker = await single()
      const { events, subscription } = record(broker, ['a'])
      const probe = record(broker, ['a'])
      await publishAll(broker, 'a', ['1'])
      await waitFor(() => events.length === 1, deliveryMs, 'first delivery')
      subscription.unsubscribe()
      subscription.unsubscribe()
      await publishAll(broker, 'a', ['2'])
      await waitFor(() => probe.events.length === 2, deliveryMs, 'probe delivery')
      assert.deepEqual(channelsAndData(events), ['a:1'])
    })

    it('replays nothing without an id, and reports the head and a cursor', async () => {
      const broker = await single()
      const [, last] = await publishAll(broker, 'a', ['1', '2'])
      const result = await replay(broker, undefined, ['a'])
      assertComplete(result)
      assert.deepEqual(result.events, [])
      assert.equal(result.head, last?.seq)
      assert.deepEqual(parseHubId(result.cursor), { epoch: result.epoch, seq: result.head })
    })

    it('replays events after an id across channels and patterns, in log order', async () => {
      const broker = await single()
      const [first] = await publishAll(broker, 'a', ['1'])
      await publishAll(broker, 'b', ['2'])
      await publishAll(broker, 'tasks/1', ['3'])
      await publishAll(broker, 'c', ['4'])
      await publishAll(broker, 'a', ['5'])
      await publishAll(broker, 'tasks/2', ['6'])
      assert.ok(first)
      const result = await replay(broker, first.id, ['a', 'tasks/*', 'b'])
      assertComplete(result)
      assert.deepEqual(channelsAndData(result.events), ['b:2', 'tasks/1:3', 'a:5', 'tasks/2:6'])
      const seqs = result.events.map((event) => event.seq)
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      )
    })

    it('replays nothing from the current cursor', async () => {
      const broker = await single()
      await publishAll(broker, 'a', ['1', '2'])
      const { cursor } = await replay(broker, undefined, ['a'])
      const result = await replay(broker, cursor, ['a'])
      assertComplete(result)
      assert.deepEqual(result.events, [])
    })

    it('resumes from a publisher-supplied id and rejects a duplicate within history', async () => {
      const broker = await single()
      await broker.publish('a', { data: '1', id: 'order-1' })
      await broker.publish('a', { data: '2' })
      const result = await replay(broker, 'order-1', ['a'])
      assertComplete(result)
      assert.deepEqual(channelsAndData(result.events), ['a:2'])
      await assert.rejects(broker.publish('b', { data: 'x', id: 'order-1' }), (error: unknown) =>
        isSseError(error, 'SSE_ERR_ID_DUPLICATE'),
      )
    })

    it('answers unknown for an id it never handed out, or one from its future', async () => {
      const broker = await single()
      const [event] = await publishAll(broker, 'a', ['1'])
      assert.ok(event)
      for (const id of ['nonsense', 'order-404', `${event.epoch}.zz`]) {
        const result = await replay(broker, id, ['a'])
        assert.equal(result.complete, false)
        assert.equal(!result.complete && result.reason, 'unknown', id)
      }
    })

    it('answers epoch for an id from another epoch', async () => {
      const broker = await single()
      const [event] = await publishAll(broker, 'a', ['1'])
      assert.ok(event)
      const other = event.epoch === 'aaaaaa' ? 'bbbbbb' : 'aaaaaa'
      const result = await replay(broker, `${other}.1`, ['a'])
      assert.equal(!result.complete && result.reason, 'epoch')
    })

    it('answers trimmed when events after the id left history by the count bound', async () => {
      const broker = await single({ historyLimit: 3 })
      const events = await publishAll(broker, 'a', ['1', '2', '3', '4', '5'])
      const trimmed = await replay(broker, events[0]?.id, ['a'])
      assert.equal(!trimmed.complete && trimmed.reason, 'trimmed')
      const covered = await replay(broker, events[1]?.id, ['a'])
      assertComplete(covered)
      assert.deepEqual(channelsAndData(covered.events), ['a:3', 'a:4', 'a:5'])
    })

    it('keeps a quiet channel resumable while a busy one is trimmed', async () => {
      const broker = await single({ historyLimit: 2 })
      const [quiet] = await publishAll(broker, 'quiet', ['q1'])
      await publishAll(broker, 'busy', ['1', '2', '3', '4', '5'])
      await publishAll(broker, 'quiet', ['q2'])
      const result = await replay(broker, quiet?.id, ['quiet'])
      assertComplete(result)
      assert.deepEqual(channelsAndData(result.events), ['quiet:q2'])
      const busy = await replay(broker, quiet?.id, ['busy'])
      assert.equal(!busy.complete && busy.reason, 'trimmed')
      const pattern = await replay(broker, quiet?.id, ['*'])
      assert.equal(!pattern.complete && pattern.reason, 'trimmed')
    })

    it('answers expired when events after the id left history by age', async () => {
      const broker = await single({ historyTtlMs: 150 })
      const [old] = await publishAll(broker, 'a', ['1', '2'])
      await sleep(400)
      await publishAll(broker, 'a', ['3'])
      const result = await replay(broker, old?.id, ['a'])
      assert.equal(!result.complete && result.reason, 'expired')
    })

    it('answers limit when more events would be replayed than allowed', async () => {
      const broker = await single()
      const [first] = await publishAll(broker, 'a', ['1', '2', '3', '4', '5'])
      const result = await replay(broker, first?.id, ['a'], 3)
      assert.equal(!result.complete && result.reason, 'limit')
      const fits = await replay(broker, first?.id, ['a'], 4)
      assertComplete(fits)
      assert.equal(fits.events.length, 4)
    })

    it('combines replay and live without gap or duplicate while publishing continues', async () => {
      const broker = await single()
      const total = 300
      const [start] = await publishAll(broker, 'feed', ['0'])
      assert.ok(start)
      let published = 0
      const publisher = (async () => {
        for (let i = 1; i <= total; i++) {
          await broker.publish('feed', { data: String(i) })
          published++
          if (i % 25 === 0) await sleep(1)
        }
      })()
      await waitFor(() => published >= 50, 5000, 'publisher progress')
      // The session protocol: register live first, then replay, then flush skipping what was sent.
      const live: BrokerEvent[] = []
      const subscription = broker.subscribe(['feed'], (event) => live.push(event))
      const result = await replay(broker, start.id, ['feed'])
      assertComplete(result)
      await withTimeout(publisher, 20_000, 'publisher')
      await waitFor(() => (live.at(-1)?.data ?? '') === String(total), deliveryMs, 'last live event')
      subscription.unsubscribe()
      let lastSeq = 0
      const received: string[] = []
      for (const event of [...result.events, ...live]) {
        if (event.seq <= lastSeq) continue
        lastSeq = event.seq
        received.push(event.data)
      }
      assert.deepEqual(
        received,
        Array.from({ length: total }, (_, i) => String(i + 1)),
      )
    })

    it('closes idempotently and refuses work afterwards', async () => {
      const broker = await single()
      assert.equal(broker.state(), 'ready')
      await broker.close()
      await broker.close()
      assert.equal(broker.state(), 'closed')
      await assert.rejects(broker.publish('a', { data: 'x' }), (error: unknown) =>
        isSseError(error, 'SSE_ERR_BROKER_CLOSED'),
      )
    })

    it('converges several nodes on one order, and any node replays ids from any other', async () => {
      const created = await cluster(3)
      const [n1, n2, n3] = created.brokers
      assert.ok(n1 && n2 && n3)
      const subs = created.brokers.map((broker) => record(broker, ['room/*']))
      const ids: string[] = []
      for (let i = 0; i < 30; i++) {
        const node = created.brokers[i % 3] as Broker
        ids.push((await node.publish(`room/${i % 2}`, { data: String(i) })).id)
      }
      await waitFor(() => subs.every((sub) => sub.events.length >= 30), deliveryMs, 'cluster delivery')
      const orders = subs.map((sub) => sub.events.map((event) => event.seq))
      assert.deepEqual(orders[1], orders[0])
      assert.deepEqual(orders[2], orders[0])
      assert.deepEqual(
        subs[0]?.events.map((event) => event.data),
        Array.from({ length: 30 }, (_, i) => String(i)),
      )
      const result = await replay(n3, ids[9], ['room/*'])
      assertComplete(result)
      assert.deepEqual(
        result.events.map((event) => event.data),
        Array.from({ length: 20 }, (_, i) => String(i + 10)),
      )
    })

    it('answers epoch for old ids after the backend lost its history', async () => {
      const created = await cluster(1)
      assert.ok(created.wipe, 'the conformance suite needs wipe() to simulate data loss')
      const broker = created.brokers[0] as Broker
      const [before] = await publishAll(broker, 'a', ['1', '2'])
      await created.wipe()
      const after = await publishAll(broker, 'a', ['3'])
      assert.notEqual(after[0]?.epoch, before?.epoch)
      const result = await replay(broker, before?.id, ['a'])
      assert.equal(!result.complete && result.reason, 'epoch')
    })
  })
}
