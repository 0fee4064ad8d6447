import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type BrokerEvent, type BrokerGap, createHub, type Hub, isSseError, RESET_EVENT } from '@ssehub/core'
import { MemorySink, RedisServer, redisSkip, sleep, TcpProxy, waitFor, withTimeout } from '@ssehub/testkit'
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js'

/** Short bounds so that every fault resolves in well under a second or two. */
const TIMEOUT_MS = 500
const SLACK_MS = 300

const skip = redisSkip('binary')

describe('RedisBroker under faults', { skip }, () => {
  const cleanups: (() => Promise<void>)[] = []
  after(async () => {
    for (const cleanup of cleanups.reverse()) await withTimeout(cleanup(), 10_000, 'cleanup')
  })
  let prefixes = 0
  const run = `${process.pid}-${Date.now().toString(36)}`

  const server = async (persistent = false): Promise<RedisServer> => {
    const started = await RedisServer.start({ persistent })
    cleanups.push(() => started.close())
    return started
  }
  const proxy = async (target: RedisServer): Promise<TcpProxy> => {
    const started = await TcpProxy.start(target.port)
    cleanups.push(() => started.close())
    return started
  }
  const broker = (url: string, options: RedisBrokerOptions = {}): RedisBroker => {
    const created = new RedisBroker({
      url,
      keyPrefix: `faults-${run}-${prefixes}:`,
      publishTimeoutMs: TIMEOUT_MS,
      reconnectStrategy: 50,
      ...options,
    })
    cleanups.push(() => created.close())
    return created
  }
  const newPrefix = (): void => {
    prefixes++
  }
  const record = (node: RedisBroker, selectors: readonly string[]) => {
    const events: BrokerEvent[] = []
    const gaps: BrokerGap[] = []
    node.subscribe(
      selectors,
      (event) => events.push(event),
      (gap) => gaps.push(gap),
    )
    return { events, gaps }
  }
  const publishRange = async (node: RedisBroker, channel: string, from: number, to: number) => {
    const out: BrokerEvent[] = []
    for (let i = from; i < to; i++) out.push(await node.publish(channel, { data: String(i) }))
    return out
  }
  /** Connects a hub session and waits until its (empty) replay is done, so it gets all that follows. */
  const session = async (hub: Hub, channels: string[]) => {
    const sink = new MemorySink()
    const connected = hub.connect(sink, { channels })
    await waitFor(() => /^id:/m.test(sink.text), 5000, 'session replay')
    return { sink, session: connected }
  }
  const datas = (events: readonly BrokerEvent[]): string[] => events.map((event) => event.data)
  const range = (from: number, to: number): string[] =>
    Array.from({ length: to - from }, (_, i) => String(from + i))
  const expectUnavailable = async (attempt: Promise<unknown>): Promise<number> => {
    const started = Date.now()
    await assert.rejects(withTimeout(attempt, 5000, 'attempt'), (error: unknown) =>
      isSseError(error, 'SSE_ERR_BROKER_UNAVAILABLE'),
    )
    const elapsed = Date.now() - started
    assert.ok(elapsed <= TIMEOUT_MS + SLACK_MS, `rejected after ${elapsed} ms`)
    return elapsed
  }

  it('starts a new epoch after FLUSHALL: old ids answer epoch, live subscribers and hub sessions go on', async () => {
    newPrefix()
    const redis = await server()
    const node = broker(redis.url)
    const other = broker(redis.url)
    const hub = createHub({ broker: node, heartbeatMs: false })
    cleanups.push(() => hub.close())
    const live = record(other, ['a'])
    await other.connect(5000)
    const { sink } = await session(hub, ['a'])
    const before = await publishRange(node, 'a', 0, 3)
    await waitFor(() => live.events.length === 3 && sink.events.length === 3, 5000, 'delivery before')
    await redis.flushAll()
    const afterFlush = await publishRange(node, 'a', 3, 6)
    assert.notEqual(afterFlush[0]?.epoch, before[0]?.epoch)
    assert.equal(afterFlush[0]?.seq, 1)
    const replayed = await node.replay(before[1]?.id, ['a'], 100)
    assert.equal(!replayed.complete && replayed.reason, 'epoch')
    await waitFor(() => live.events.length === 6, 5000, 'new-epoch events on the other node')
    assert.deepEqual(datas(live.events), range(0, 6))
    assert.deepEqual(
      live.events.slice(3).map((event) => event.epoch),
      afterFlush.map((event) => event.epoch),
    )
    await waitFor(() => sink.events.length === 7, 5000, 'reset and new-epoch events in the session')
    const reset = sink.events[3]
    assert.equal(reset?.type, RESET_EVENT)
    assert.equal(JSON.parse(reset?.data ?? '{}').reason, 'epoch')
    assert.deepEqual(
      sink.events.slice(4).map((event) => event.data),
      ['3', '4', '5'],
    )
    // A client coming back with an id from before the flush learns it too.
    const late = new MemorySink()
    hub.connect(late, { channels: ['a'], lastEventId: before[2]?.id })
    await waitFor(() => late.events.length >= 1, 5000, 'reset for a late client')
    assert.equal(late.events[0]?.type, RESET_EVENT)
    assert.equal(JSON.parse(late.events[0]?.data ?? '{}').reason, 'epoch')
  })

  it('fails publishes within publishTimeoutMs while Redis is down, and loses nothing once it is back with its data', async () => {
    newPrefix()
    const redis = await server(true)
    const node = broker(redis.url)
    const publisher = broker(redis.url)
    const live = record(node, ['feed'])
    const hub = createHub({ broker: node, heartbeatMs: 50 })
    cleanups.push(() => hub.close())
    const { sink, session: open } = await session(hub, ['feed'])
    const before = await publishRange(publisher, 'feed', 0, 5)
    await waitFor(() => live.events.length === 5, 5000, 'delivery before the outage')

    await redis.stop('SIGKILL')
    await waitFor(() => node.state() === 'degraded', 2000, 'degraded state')
    await expectUnavailable(node.publish('feed', { data: 'lost' }))
    await expectUnavailable(node.replay(before[0]?.id, ['feed'], 100))
    // The session stays open through the outage, with heartbeats.
    const heartbeats = sink.comments.length
    await sleep(200)
    assert.equal(open.closeReason, undefined)
    assert.ok(sink.comments.length > heartbeats, 'heartbeats go on during the outage')

    await redis.restart({ keepData: true })
    await waitFor(() => node.state() === 'ready' && publisher.state() === 'ready', 5000, 'ready again')
    await publishRange(publisher, 'feed', 5, 10)
    await publishRange(node, 'feed', 10, 12)
    await waitFor(() => live.events.length === 12, 5000, 'delivery after recovery')
    assert.deepEqual(datas(live.events), range(0, 12))
    assert.equal(new Set(live.events.map((event) => event.epoch)).size, 1)
    const across = await node.replay(before[2]?.id, ['feed'], 100)
    assert.ok(across.complete)
    assert.deepEqual(datas(across.events), range(3, 12))
    await waitFor(() => sink.events.length === 12, 5000, 'session delivery after recovery')
    assert.deepEqual(
      sink.events.map((event) => event.data),
      range(0, 12),
    )
  })

  it('surfaces the epoch change when Redis comes back without its data', async () => {
    newPrefix()
    const redis = await server()
    const node = broker(redis.url)
    const live = record(node, ['feed'])
    const hub = createHub({ broker: node, heartbeatMs: false })
    cleanups.push(() => hub.close())
    const { sink } = await session(hub, ['feed'])
    const before = await publishRange(node, 'feed', 0, 3)
    await waitFor(() => live.events.length === 3 && sink.events.length === 3, 5000, 'delivery before')
    await redis.stop('SIGKILL')
    await redis.restart({ keepData: false })
    await waitFor(() => node.state() === 'ready', 5000, 'ready again')
    const afterRestart = await publishRange(node, 'feed', 3, 5)
    assert.notEqual(afterRestart[0]?.epoch, before[0]?.epoch)
    await waitFor(() => live.events.length === 5, 5000, 'new-epoch delivery')
    assert.deepEqual(datas(live.events), range(0, 5))
    const replayed = await node.replay(before[0]?.id, ['feed'], 100)
    assert.equal(!replayed.complete && replayed.reason, 'epoch')
    await waitFor(() => sink.events.length === 6, 5000, 'session reset')
    assert.equal(sink.events[3]?.type, RESET_EVENT)
    assert.equal(JSON.parse(sink.events[3]?.data ?? '{}').reason, 'epoch')
  })

  it('recovers without loss when its connections are killed (CLIENT KILL), and holds no pub/sub connection', async () => {
    newPrefix()
    const redis = await server()
    const node = broker(redis.url)
    const publisher = broker(redis.url)
    const live = record(node, ['feed'])
    await node.connect(5000)
    // Each event carries the publisher's own id, so retrying a publish whose outcome is unknown
    // (its connection was killed mid-flight) cannot store it twice: the retry answers duplicate.
    let published = 0
    const publishOnce = async (i: number): Promise<void> => {
      for (;;) {
        try {
          await publisher.publish('feed', { data: String(i), id: `order-${i}` })
          return
        } catch (error) {
          if (isSseError(error, 'SSE_ERR_ID_DUPLICATE')) return
          if (!isSseError(error, 'SSE_ERR_BROKER_UNAVAILABLE')) throw error
        }
      }
    }
    const publishing = (async () => {
      for (let i = 0; i < 300; i++) {
        await publishOnce(i)
        published++
        if (i % 10 === 0) await sleep(2)
      }
    })()
    await waitFor(() => published >= 50, 5000, 'publisher progress')
    assert.equal(await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub'), 0)
    const readers = String(await redis.command('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => line.includes('name=ssehub-reader'))
    assert.equal(readers.length, 2)
    for (const line of readers)
      await redis.command('CLIENT', 'KILL', 'ID', /^id=(\d+)/.exec(line)?.[1] as string)
    await waitFor(() => published >= 150, 5000, 'publisher progress')
    assert.ok(Number(await redis.command('CLIENT', 'KILL', 'TYPE', 'normal')) >= 4)
    await withTimeout(publishing, 10_000, 'publishing')
    await waitFor(() => live.events.length >= 300, 5000, 'delivery of everything')
    assert.deepEqual(
      live.events.map((event) => event.seq),
      Array.from({ length: live.events.length }, (_, i) => i + 1),
    )
    assert.equal(new Set(datas(live.events)).size, live.events.length)
    assert.equal(node.state(), 'ready')
  })

  it('times out publishes through a stalled network, then resumes without loss when it flows again', async () => {
    newPrefix()
    const redis = await server()
    const gate = await proxy(redis)
    const node = broker(gate.url)
    const publisher = broker(redis.url)
    const live = record(node, ['feed'])
    await node.connect(5000)
    const before = await publishRange(node, 'feed', 0, 3)
    await waitFor(() => live.events.length === 3, 5000, 'delivery before the stall')

    gate.pause()
    await expectUnavailable(node.publish('feed', { data: 'stalled' }))
    await waitFor(() => node.state() === 'degraded', 2000, 'degraded state')
    await publishRange(publisher, 'feed', 3, 8)
    // Long enough for the reader's blocking read to be found stalled and its connection replaced.
    await sleep(1000 + TIMEOUT_MS + 200)
    gate.resume()

    await waitFor(() => node.state() === 'ready', 5000, 'ready again')
    await publishRange(node, 'feed', 8, 10)
    // Wait for the last one: the timed-out publish may have been applied too (see below).
    await waitFor(() => live.events.at(-1)?.data === '9', 5000, 'delivery after the stall')
    // The publish that timed out had reached the proxy; once forwarded it may be applied
    // (publishers retry with their own id to make that idempotent). Nothing else may differ.
    const data = datas(live.events).filter((item) => item !== 'stalled')
    assert.deepEqual(data, range(0, 10))
    assert.ok(live.events.every((event, i) => i === 0 || event.seq === (live.events[i - 1]?.seq ?? 0) + 1))
    const across = await node.replay(before[0]?.id, ['feed'], 100)
    assert.ok(across.complete)
    assert.deepEqual(
      datas(across.events).filter((item) => item !== 'stalled'),
      range(1, 10),
    )
    // Stalled connections were replaced, never added to: two per broker, as before.
    const names = async () =>
      String(await redis.command('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => /name=ssehub-/.test(line)).length
    const deadline = Date.now() + 3000
    while ((await names()) !== 4 && Date.now() < deadline) await sleep(50)
    assert.equal(await names(), 4)
  })

  it('reports a gap when the feed and the channel history were both trimmed past a cut-off node', async () => {
    newPrefix()
    const redis = await server()
    const gate = await proxy(redis)
    const node = broker(gate.url, { historyLimit: 5, feedLimit: 10 })
    const publisher = broker(redis.url, { historyLimit: 5, feedLimit: 10 })
    const live = record(node, ['feed'])
    await node.connect(5000)
    const hub = createHub({ broker: node, heartbeatMs: false })
    cleanups.push(() => hub.close())
    const { sink } = await session(hub, ['feed'])
    await publishRange(publisher, 'feed', 0, 5)
    await waitFor(() => live.events.length === 5, 5000, 'delivery before the cut')
    gate.pause()
    const during = await publishRange(publisher, 'feed', 5, 505)
    const feed = Number(await redis.command('XLEN', `${publisher.keyBase}log`))
    assert.ok(feed < 300, `the feed was trimmed to ${feed} entries`)
    gate.resume()
    const last = during.at(-1) as BrokerEvent
    await waitFor(() => live.events.at(-1)?.seq === last.seq, 10_000, 'delivery after the cut')
    assert.equal(live.gaps.length, 1)
    const [gap] = live.gaps
    assert.equal(gap?.reason, 'trimmed')
    assert.equal(gap?.epoch, last.epoch)
    assert.ok(gap !== undefined && gap.seq > 6 && gap.seq < last.seq, `gap up to ${gap?.seq}`)
    // Everything after the gap arrived, in order, once.
    const afterGap = live.events.filter((event) => gap !== undefined && event.seq > gap.seq)
    assert.deepEqual(
      afterGap.map((event) => event.seq),
      Array.from({ length: last.seq - (gap?.seq ?? 0) }, (_, i) => (gap?.seq ?? 0) + i + 1),
    )
    // A hub session turns the gap into an in-band reset, then goes on.
    await waitFor(() => sink.events.at(-1)?.data === '504', 5000, 'session delivery')
    const resets = sink.events.filter((event) => event.type === RESET_EVENT)
    assert.equal(resets.length, 1)
    assert.equal(JSON.parse(resets[0]?.data ?? '{}').reason, 'trimmed')
  })

  it('recovers what a cut-off node missed from channel history when the feed no longer has it', async () => {
    newPrefix()
    const redis = await server()
    const gate = await proxy(redis)
    const node = broker(gate.url, { feedLimit: 10 })
    const publisher = broker(redis.url, { feedLimit: 10 })
    const live = record(node, ['feed', 'side/*'])
    const unrelated = record(node, ['elsewhere'])
    await node.connect(5000)
    await publishRange(publisher, 'feed', 0, 5)
    await waitFor(() => live.events.length === 5, 5000, 'delivery before the cut')
    gate.pause()
    for (let i = 5; i < 505; i++) {
      await publisher.publish(i % 3 === 0 ? `side/${i % 2}` : i % 7 === 0 ? 'noise' : 'feed', {
        data: String(i),
      })
    }
    gate.resume()
    const expected = range(0, 505).filter((_, i) => i < 5 || i % 3 === 0 || i % 7 !== 0)
    await waitFor(() => live.events.length >= expected.length, 10_000, 'delivery after the cut')
    assert.deepEqual(datas(live.events), expected)
    assert.deepEqual(live.gaps, [])
    assert.deepEqual(unrelated.gaps, [])
    assert.deepEqual(unrelated.events, [])
  })
})
