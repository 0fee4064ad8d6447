import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type Broker,
  type CloseReason,
  createHub,
  type GapListener,
  MemoryBroker,
  MemoryBus,
  parseHubId,
  RESET_EVENT,
} from '@ssehub/core'
import { gatedReplayBroker, MemorySink, sleep, waitFor } from '@ssehub/testkit'

const tick = () => sleep(0)

function resetData(sink: MemorySink, index = 0): { reason: string; lastEventId: string } {
  const event = sink.events[index]
  assert.equal(event?.type, RESET_EVENT)
  return JSON.parse(event.data)
}

describe('Hub sessions', () => {
  it('sends the retry hint, then a cursor id so a quiet channel can resume', async () => {
    const fresh = createHub()
    const first = new MemorySink()
    fresh.connect(first, { channels: ['a'] })
    await tick()
    assert.match(first.lastEventId, /\.0$/, 'a fresh hub still hands out a cursor')
    await fresh.close()

    const hub = createHub({ retryMs: 3000 })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['quiet'] })
    await tick()
    assert.deepEqual(sink.retries, [3000])
    assert.equal(sink.events.length, 0)
    assert.ok(parseHubId(sink.lastEventId), `cursor ${sink.lastEventId}`)
    const other = new MemorySink()
    await hub.publish('noise', 'x')
    hub.connect(other, { channels: ['quiet'], lastEventId: sink.lastEventId })
    await hub.publish('quiet', 'while away')
    await tick()
    assert.deepEqual(
      other.events.map((event) => event.data),
      ['while away'],
    )
    await hub.close()
  })

  it('delivers strings as-is and other values as JSON, with hub ids', async () => {
    const hub = createHub()
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['news'] })
    await tick()
    const id1 = await hub.publish('news', 'line 1\r\nline 2\rline 3\nline 4')
    const id2 = await hub.publish('news', { a: [1, 'two'] }, { event: 'update', retry: 5000 })
    assert.ok(parseHubId(id1))
    assert.deepEqual(
      sink.events.map(({ type, data, lastEventId }) => ({ type, data, lastEventId })),
      [
        { type: 'message', data: 'line 1\nline 2\nline 3\nline 4', lastEventId: id1 },
        { type: 'update', data: '{"a":[1,"two"]}', lastEventId: id2 },
      ],
    )
    assert.deepEqual(sink.retries, [2000, 5000])
    await hub.close()
  })

  it('encodes each event once and writes the same bytes to every subscriber', async () => {
    const hub = createHub({ retryMs: false })
    const chunks: Uint8Array[][] = [[], []]
    const sinks = chunks.map((seen) => {
      const sink = new MemorySink()
      const write = sink.write.bind(sink)
      sink.write = (chunk) => {
        seen.push(chunk)
        return write(chunk)
      }
      hub.connect(sink, { channels: ['a', 'a*'] })
      return sink
    })
    await tick()
    await hub.publish('a', 'shared')
    const [first, second] = chunks.map((seen) => seen.at(-1))
    assert.ok(first !== undefined && first === second, 'one Uint8Array for all subscribers')
    assert.deepEqual(
      sinks.map((sink) => sink.events.length),
      [1, 1],
    )
    await hub.close()
  })

  it('replays after Last-Event-ID then goes live, with no gap or duplicate when publishing during replay', async () => {
    const hub = createHub()
    const ids: string[] = []
    for (let i = 1; i <= 5; i++) ids.push(await hub.publish('feed', String(i)))
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['feed'], lastEventId: ids[1] })
    // Published before the replay has been applied: queued, then flushed after the replay.
    const during = [hub.publish('feed', '6'), hub.publish('feed', '7')]
    await Promise.all(during)
    await tick()
    await hub.publish('feed', '8')
    assert.deepEqual(
      sink.events.map((event) => event.data),
      ['3', '4', '5', '6', '7', '8'],
    )
    await hub.close()
  })

  it('resumes every channel and pattern of a connection from one id', async () => {
    const hub = createHub()
    const first = await hub.publish('a', 'a1')
    await hub.publish('tasks/1', 't1')
    await hub.publish('b', 'b1')
    await hub.publish('c', 'ignored')
    await hub.publish('tasks/2', 't2')
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['a', 'b', 'tasks/*'], lastEventId: first })
    await tick()
    assert.deepEqual(
      sink.events.map((event) => event.data),
      ['t1', 'b1', 't2'],
    )
    await hub.close()
  })

  it('resumes from a publisher-supplied id', async () => {
    const hub = createHub()
    await hub.publish('orders', 'first', { id: 'order-1' })
    await hub.publish('orders', 'second', { id: 'order-2' })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['orders'], lastEventId: 'order-1' })
    await tick()
    assert.deepEqual(
      sink.events.map((event) => [event.data, event.lastEventId]),
      [['second', 'order-2']],
    )
    await hub.close()
  })

  it('sends ssehub.reset for an unknown id, carrying a cursor so the next resume does not reset again', async () => {
    const hub = createHub()
    await hub.publish('feed', 'old')
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['feed'], lastEventId: 'bogus' })
    await tick()
    assert.deepEqual(resetData(sink), { reason: 'unknown', lastEventId: 'bogus' })
    await hub.publish('feed', 'live')
    assert.deepEqual(
      sink.events.slice(1).map((event) => event.data),
      ['live'],
    )
    const again = new MemorySink()
    hub.connect(again, { channels: ['feed'], lastEventId: sink.events[0]?.lastEventId })
    await tick()
    assert.deepEqual(
      again.events.map((event) => [event.type, event.data]),
      [['message', 'live']],
    )
    await hub.close()
  })

  it('sends ssehub.reset with reason trimmed, then only live events', async () => {
    const hub = createHub({ broker: new MemoryBroker({ historyLimit: 3 }) })
    const ids: string[] = []
    for (let i = 1; i <= 10; i++) ids.push(await hub.publish('feed', String(i)))
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['feed'], lastEventId: ids[0] })
    await tick()
    await hub.publish('feed', '11')
    assert.deepEqual(resetData(sink), { reason: 'trimmed', lastEventId: ids[0] })
    assert.deepEqual(
      sink.events.slice(1).map((event) => event.data),
      ['11'],
    )
    await hub.close()
  })

  it('signals in-band when the broker loses its history mid-stream', async () => {
    const bus = new MemoryBus()
    const hub = createHub({ broker: new MemoryBroker({ bus }) })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['feed'] })
    await tick()
    await hub.publish('feed', 'before')
    bus.wipe()
    await hub.publish('feed', 'after')
    assert.equal(sink.events[0]?.data, 'before')
    assert.equal(resetData(sink, 1).reason, 'epoch')
    assert.equal(sink.events[2]?.data, 'after')
    await hub.close()
  })

  it('turns a gap reported by the broker into an in-band reset, once, then goes on', async () => {
    const memory = new MemoryBroker()
    const gaps: GapListener[] = []
    const broker: Broker = {
      publish: (channel, message) => memory.publish(channel, message),
      subscribe: (selectors, listener, onGap) => {
        if (onGap) gaps.push(onGap)
        return memory.subscribe(selectors, listener)
      },
      replay: (afterId, selectors, limit) => memory.replay(afterId, selectors, limit),
      state: () => memory.state(),
      close: () => memory.close(),
    }
    const hub = createHub({ broker })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['feed', 'feed*'] })
    await tick()
    const first = await hub.publish('feed', 'before')
    const epoch = parseHubId(first)?.epoch ?? ''
    for (const onGap of gaps) onGap({ epoch, seq: 5, reason: 'trimmed' })
    for (const onGap of gaps) onGap({ epoch, seq: 3, reason: 'trimmed' })
    assert.equal(sink.events.length, 2, 'one reset, however many routes report the gap')
    assert.equal(resetData(sink, 1).reason, 'trimmed')
    assert.equal(sink.events[1]?.lastEventId, `${epoch}.5`)
    await hub.close()
  })

  it('sends heartbeat comments from one shared timer that stops with the last session', async () => {
    const hub = createHub({ heartbeatMs: 20 })
    const sinks = [new MemorySink(), new MemorySink()]
    for (const sink of sinks) hub.connect(sink, { channels: ['a'] })
    assert.equal(hub.stats().heartbeatTimer, true)
    await waitFor(() => sinks.every((sink) => sink.comments.length >= 2), 2000, 'heartbeats')
    for (const sink of sinks) sink.disconnect()
    await tick()
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
    await hub.close()
  })

  it('queues for a slow reader and delivers everything in order once it reads', async () => {
    const hub = createHub({ retryMs: false })
    const sink = new MemorySink({ highWaterMark: 100 })
    hub.connect(sink, { channels: ['feed'] })
    await tick()
    sink.paused = true
    for (let i = 0; i < 50; i++) await hub.publish('feed', String(i))
    const writesWhilePaused = sink.writes
    assert.ok(writesWhilePaused < 10, `${writesWhilePaused} writes to a paused sink`)
    sink.read()
    await waitFor(() => sink.events.length === 50, 2000, 'flush after drain')
    assert.deepEqual(
      sink.events.map((event) => event.data),
      Array.from({ length: 50 }, (_, i) => String(i)),
    )
    await hub.close()
  })

  it('disconnects a reader whose queue overflows, without slowing other subscribers', async () => {
    const hub = createHub({ maxQueueEvents: 20, maxQueueBytes: 1_000_000 })
    const slow = new MemorySink({ highWaterMark: 10, paused: true })
    const fast = new MemorySink()
    let reason: CloseReason | undefined
    hub.connect(slow, { channels: ['feed'], onClose: (why) => (reason = why) })
    hub.connect(fast, { channels: ['feed'] })
    await tick()
    for (let i = 0; i < 100; i++) await hub.publish('feed', String(i))
    assert.equal(reason, 'overflow')
    assert.equal(slow.closed, true)
    assert.equal(fast.events.length, 100)
    assert.equal(hub.stats().sessions, 1)
    await hub.close()
  })

  it('bounds a slow reader by bytes too', async () => {
    const hub = createHub({ maxQueueBytes: 10_000 })
    const slow = new MemorySink({ highWaterMark: 10, paused: true })
    hub.connect(slow, { channels: ['feed'] })
    await tick()
    for (let i = 0; i < 20 && !slow.closed; i++) await hub.publish('feed', 'x'.repeat(1000))
    assert.equal(slow.closed, true)
    await hub.close()
  })

  it('bounds the live events held during a slow replay by bytes, then disconnects', async () => {
    const { broker, release } = gatedReplayBroker()
    const hub = createHub({ broker, maxQueueBytes: 20_000 })
    const sink = new MemorySink()
    let reason: CloseReason | undefined
    hub.connect(sink, { channels: ['feed'], onClose: (why) => (reason = why) })
    for (let i = 0; i < 10 && reason === undefined; i++) await hub.publish('feed', 'x'.repeat(5000))
    assert.equal(reason, 'overflow')
    release()
    await hub.close()
  })

  it('holds a live event matching two selectors of a replaying session once, and counts it once', async () => {
    const { broker, release } = gatedReplayBroker()
    let delivered = 0
    const hub = createHub({
      broker,
      maxQueueEvents: 3,
      heartbeatMs: false,
      observer: { delivered: (_event, sessions) => (delivered += sessions) },
    })
    const resumeFrom = await hub.publish('feed', 'seen')
    const sink = new MemorySink()
    let reason: CloseReason | undefined
    hub.connect(sink, { channels: ['feed', 'f*'], lastEventId: resumeFrom, onClose: (why) => (reason = why) })
    // Three events fill the queue of three exactly; held once per selector they would overflow it.
    for (let i = 0; i < 3; i++) await hub.publish('feed', `e${i}`)
    assert.equal(reason, undefined)
    assert.equal(delivered, 3)
    release()
    await waitFor(() => sink.events.length === 3, 2000, 'the held events')
    await hub.publish('feed', 'live')
    await waitFor(() => sink.events.length === 4, 2000, 'the live event')
    assert.deepEqual(
      sink.events.map((event) => event.data),
      ['e0', 'e1', 'e2', 'live'],
    )
    assert.equal(delivered, 4)
    assert.equal(reason, undefined)
    await hub.close()
  })

  it('leaves no session, route, subscription or timer after 10,000 connect/disconnect cycles', async () => {
    const broker = new MemoryBroker()
    const hub = createHub({ broker, heartbeatMs: 1000 })
    for (let i = 0; i < 10_000; i++) {
      const sink = new MemorySink()
      hub.connect(sink, { channels: [`c${i % 50}`, 'tasks/*'], lastEventId: i % 2 ? 'bogus' : undefined })
      if (i % 3 === 0) await tick()
      sink.disconnect()
    }
    await sleep(10)
    assert.deepEqual(hub.stats(), { sessions: 0, routes: 0, heartbeatTimer: false })
    assert.equal(broker.subscriptionCount, 0)
    await hub.close()
  })

  it('counts subscribers of a channel across exact and pattern selectors once each', async () => {
    const hub = createHub()
    hub.connect(new MemorySink(), { channels: ['tasks/1'] })
    const both = new MemorySink()
    hub.connect(both, { channels: ['tasks/1', 'tasks/*'] })
    const everything = new MemorySink()
    hub.connect(everything, { channels: ['*'] })
    hub.connect(new MemorySink(), { channels: ['other'] })
    assert.equal(hub.subscriberCount('tasks/1'), 3)
    assert.equal(hub.subscriberCount('tasks/2'), 2)
    assert.equal(hub.subscriberCount('nobody'), 1)
    // Patterns are forgotten with their last session.
    everything.disconnect()
    both.disconnect()
    await sleep(10)
    assert.equal(hub.subscriberCount('tasks/1'), 1)
    assert.equal(hub.subscriberCount('tasks/2'), 0)
    assert.equal(hub.subscriberCount('nobody'), 0)
    assert.deepEqual(hub.sessionsOn('tasks/2'), [])
    await hub.close()
  })

  it('gives the one-channel sessions of a channel one frozen list of selectors, and ends each once', async () => {
    const hub = createHub({ heartbeatMs: false })
    const closed: CloseReason[] = []
    const onClose = (reason: CloseReason) => closed.push(reason)
    const started = Date.now()
    const a = hub.connect(new MemorySink(), { channels: ['news'], onClose })
    const b = hub.connect(new MemorySink(), { channels: ['news'], onClose })
    const both = hub.connect(new MemorySink(), { channels: ['news', 'sport'], onClose })
    assert.equal(a.selectors, b.selectors, 'one list for the sessions of one channel')
    assert.ok(Object.isFrozen(a.selectors))
    assert.deepEqual([a.selectors, both.selectors], [['news'], ['news', 'sport']])
    assert.ok(a.connectedAt >= started && a.connectedAt <= Date.now())
    a.close()
    a.close()
    b.close()
    // The route lives on through `both`; once it is gone, a new one starts a new list.
    assert.deepEqual(hub.connect(new MemorySink(), { channels: ['news'], onClose }).selectors, ['news'])
    await hub.close()
    assert.deepEqual(closed, ['closed', 'closed', 'hub-closed', 'hub-closed'])
    const again = createHub({ heartbeatMs: false })
    assert.deepEqual(again.connect(new MemorySink(), { channels: ['sport'] }).selectors, ['sport'])
    await again.close()
  })

  it('ends every session when the hub closes, and refuses work afterwards', async () => {
    const hub = createHub()
    const sink = new MemorySink()
    let reason: CloseReason | undefined
    hub.connect(sink, { channels: ['a'], onClose: (why) => (reason = why) })
    await hub.close()
    assert.equal(reason, 'hub-closed')
    assert.equal(sink.closed, true)
    await assert.rejects(hub.publish('a', 'x'), { code: 'SSE_ERR_HUB_CLOSED' })
    assert.throws(() => hub.connect(new MemorySink(), { channels: ['a'] }), { code: 'SSE_ERR_HUB_CLOSED' })
  })

  it('closes a session whose sink was already aborted', async () => {
    const hub = createHub()
    const sink = new MemorySink()
    sink.disconnect()
    hub.connect(sink, { channels: ['a'] })
    await tick()
    assert.equal(hub.stats().sessions, 0)
    await hub.close()
  })
})

describe('Hub validation', () => {
  const hub = createHub()

  it('rejects invalid subscriptions before writing anything', () => {
    const cases: [string[], string][] = [
      [[], 'SSE_ERR_SUBSCRIBE_EMPTY'],
      [[''], 'SSE_ERR_CHANNEL_INVALID'],
      [['a\nb'], 'SSE_ERR_CHANNEL_INVALID'],
      [['a\u0000'], 'SSE_ERR_CHANNEL_INVALID'],
      [['x'.repeat(201)], 'SSE_ERR_CHANNEL_INVALID'],
      [['a*b'], 'SSE_ERR_CHANNEL_INVALID'],
      [['a**'], 'SSE_ERR_PATTERN_INVALID'],
      [[`${'x'.repeat(200)}*`], 'SSE_ERR_PATTERN_INVALID'],
      [Array.from({ length: 101 }, (_, i) => `c${i}`), 'SSE_ERR_SUBSCRIBE_TOO_MANY'],
    ]
    for (const [channels, code] of cases) {
      const sink = new MemorySink()
      assert.throws(() => hub.connect(sink, { channels }), { code }, JSON.stringify(channels).slice(0, 40))
      assert.equal(sink.writes, 0)
    }
    assert.throws(() => hub.connect(new MemorySink(), { channels: ['a'], lastEventId: 'x'.repeat(129) }), {
      code: 'SSE_ERR_LAST_EVENT_ID_TOO_LONG',
    })
    assert.equal(hub.stats().sessions, 0)
  })

  it('rejects invalid publishes with a coded error naming the field', async () => {
    const cases: [string, unknown, object, string, string][] = [
      ['', 'x', {}, 'SSE_ERR_CHANNEL_INVALID', 'channel'],
      ['ssehub.presence', 'x', {}, 'SSE_ERR_CHANNEL_RESERVED', 'channel'],
      ['a', 'x', { event: 'm\revent: admin' }, 'SSE_ERR_WIRE_INVALID_EVENT', 'event'],
      ['a', 'x', { event: RESET_EVENT }, 'SSE_ERR_EVENT_RESERVED', 'event'],
      ['a', 'x', { event: 'e'.repeat(201) }, 'SSE_ERR_EVENT_TOO_LONG', 'event'],
      ['a', 'x', { id: 'a\ndata: x' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
      ['a', 'x', { id: 'a\u0000' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
      ['a', 'x', { id: '' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
      ['a', 'x', { id: '\ud800' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
      ['a', 'x', { id: 'x\udfffy' }, 'SSE_ERR_WIRE_INVALID_ID', 'id'],
      ['a', 'x', { id: 'abcdef.1' }, 'SSE_ERR_ID_RESERVED', 'id'],
      ['a', 'x', { id: 'i'.repeat(129) }, 'SSE_ERR_ID_TOO_LONG', 'id'],
      ['a', 'x', { retry: -1 }, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
      ['a', 'x', { retry: 1.5 }, 'SSE_ERR_WIRE_INVALID_RETRY', 'retry'],
      ['a', undefined, {}, 'SSE_ERR_DATA_INVALID', 'data'],
      ['a', 10n, {}, 'SSE_ERR_DATA_INVALID', 'data'],
      ['a', 'x'.repeat(1024 * 1024 + 1), {}, 'SSE_ERR_DATA_TOO_LARGE', 'data'],
    ]
    for (const [channel, data, options, code, field] of cases) {
      await assert.rejects(hub.publish(channel, data, options), { code, field }, `${code} ${field}`)
    }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await assert.rejects(hub.publish('a', cyclic), { code: 'SSE_ERR_DATA_INVALID' })
  })

  it('takes publisher ids with paired surrogates, which clients read back unchanged', async () => {
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['emoji'] })
    await hub.publish('emoji', 'x', { id: 'party-\ud83c\udf89' })
    await waitFor(() => sink.events.length === 1, 2000, 'the event')
    assert.equal(sink.events[0]?.lastEventId, 'party-🎉')
  })

  it('rejects a duplicate publisher id within history with a coded error', async () => {
    await hub.publish('a', 'x', { id: 'unique-1' })
    await assert.rejects(hub.publish('b', 'y', { id: 'unique-1' }), { code: 'SSE_ERR_ID_DUPLICATE' })
  })

  it('validates options eagerly', () => {
    for (const options of [{ heartbeatMs: 0 }, { retryMs: -1 }, { maxQueueBytes: 0 }, { replayLimit: 1.5 }]) {
      assert.throws(() => createHub(options), { code: 'SSE_ERR_OPTION_INVALID' }, JSON.stringify(options))
    }
  })
})
