import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type Broker,
  type BrokerEvent,
  type CloseReason,
  createHub,
  isSseError,
  MemoryBroker,
  parseHubId,
  RESET_EVENT,
} from '@ssehub/core'
import { gatedReplayBroker, MemorySink, sleep, waitFor, withTimeout } from '@ssehub/testkit'

const tick = () => sleep(0)
const isPublic = (event: BrokerEvent): boolean => event.private !== true

/** Every `id:` value written to the sink, event or not. */
function idsWritten(sink: MemorySink): string[] {
  return [...sink.text.matchAll(/^id: ?(.*)$/gm)].map((match) => match[1] ?? '')
}

/** Counts the intervals started and still running while `run` goes on (the hub's timers are unref'd). */
async function countingIntervals<T>(
  run: (running: () => number, started: () => number) => Promise<T>,
): Promise<T> {
  const original = globalThis.setInterval
  const originalClear = globalThis.clearInterval
  const live = new Set<unknown>()
  let started = 0
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const timer = original(...args)
    live.add(timer)
    started++
    return timer
  }) as typeof setInterval
  globalThis.clearInterval = ((timer: Parameters<typeof clearInterval>[0]) => {
    live.delete(timer)
    originalClear(timer)
  }) as typeof clearInterval
  try {
    return await run(
      () => live.size,
      () => started,
    )
  } finally {
    globalThis.setInterval = original
    globalThis.clearInterval = originalClear
  }
}

describe('private events', () => {
  it('carries the private flag through the memory broker, live and on replay', async () => {
    const broker = new MemoryBroker()
    const seen: BrokerEvent[] = []
    broker.subscribe(['a'], (event) => seen.push(event))
    const first = await broker.publish('a', { data: 'public' })
    const hidden = await broker.publish('a', { data: 'secret', private: true })
    assert.equal(first.private, undefined)
    assert.equal(hidden.private, true)
    assert.deepEqual(
      seen.map((event) => event.private),
      [undefined, true],
    )
    const replay = await broker.replay(first.id, ['a'], 10)
    assert.ok(replay.complete)
    assert.equal(replay.events[0]?.private, true)
    await broker.close()
  })

  it('refuses a private publish through a broker that cannot carry the flag, publishing nothing', async () => {
    const memory = new MemoryBroker()
    let published = 0
    const broker: Broker = {
      publish: (channel, message) => {
        published++
        return memory.publish(channel, message)
      },
      subscribe: (selectors, listener) => memory.subscribe(selectors, listener),
      replay: (afterId, selectors, limit) => memory.replay(afterId, selectors, limit),
      state: () => memory.state(),
      close: () => memory.close(),
    }
    const hub = createHub({ broker })
    await assert.rejects(hub.publish('a', 'secret', { private: true }), (error: unknown) => {
      assert.ok(isSseError(error, 'SSE_ERR_PRIVATE_UNSUPPORTED'))
      assert.equal(error.field, 'private')
      return true
    })
    assert.equal(published, 0)
    await hub.publish('a', 'public')
    assert.equal(published, 1)
    await hub.close()
  })

  it('delivers live only what canRead allows, writing no trace of the hidden events', async () => {
    const hub = createHub()
    const reader = new MemorySink()
    const everyone = new MemorySink()
    hub.connect(reader, { channels: ['news'], canRead: isPublic })
    hub.connect(everyone, { channels: ['news'] })
    await tick()
    const visible = await hub.publish('news', 'one')
    const hidden = await hub.publish('news', 'secret data', { private: true, event: 'secret-type' })
    const custom = await hub.publish('news', 'secret two', { private: true, id: 'order-42' })
    const last = await hub.publish('news', 'two')
    assert.deepEqual(
      reader.events.map((event) => [event.data, event.lastEventId]),
      [
        ['one', visible],
        ['two', last],
      ],
    )
    assert.equal(everyone.events.length, 4)
    for (const secret of [hidden, custom, 'secret', 'order-42']) {
      assert.ok(!reader.text.includes(secret), `the stream never contains ${secret}`)
    }
    await hub.close()
  })

  it('re-checks every replayed event and hands out a cursor that is no hidden event id', async () => {
    const hub = createHub()
    const first = await hub.publish('news', 'before')
    const hidden: string[] = []
    hidden.push(await hub.publish('news', 'h1', { private: true }))
    const middle = await hub.publish('news', 'visible')
    hidden.push(await hub.publish('news', 'h2', { private: true }))
    hidden.push(await hub.publish('elsewhere', 'h3', { private: true }))

    const sink = new MemorySink()
    hub.connect(sink, { channels: ['news'], lastEventId: first, canRead: isPublic })
    await waitFor(() => sink.lastEventId !== '' && sink.lastEventId !== middle, 2000, 'cursor after replay')
    assert.deepEqual(
      sink.events.map((event) => event.data),
      ['visible'],
    )
    const cursor = sink.lastEventId
    const position = parseHubId(cursor)
    assert.ok(position, `the cursor ${cursor} is a position`)
    assert.equal(position.seq, parseHubId(hidden.at(-1) ?? '')?.seq, 'the cursor is past every hidden event')
    for (const id of idsWritten(sink)) assert.ok(!hidden.includes(id), `${id} is not a hidden event id`)

    // Resuming from that cursor neither replays the hidden events nor resets.
    const again = new MemorySink()
    hub.connect(again, { channels: ['news'], lastEventId: cursor, canRead: isPublic })
    await tick()
    await hub.publish('news', 'after')
    await waitFor(() => again.events.length === 1, 2000, 'live event after resume')
    assert.deepEqual(
      again.events.map((event) => [event.type, event.data]),
      [['message', 'after']],
    )
    await hub.close()
  })

  it('never spells a hidden head event in the cursor of a fresh connection', async () => {
    const hub = createHub()
    await hub.publish('news', 'public')
    const hidden = await hub.publish('private/x', 'secret', { private: true })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['news'], canRead: isPublic })
    await waitFor(() => sink.lastEventId !== '', 2000, 'cursor')
    assert.notEqual(sink.lastEventId, hidden)
    assert.equal(parseHubId(sink.lastEventId)?.seq, parseHubId(hidden)?.seq)
    // Without a filter, nothing changes: the cursor is the plain hub id.
    const plain = new MemorySink()
    hub.connect(plain, { channels: ['news'] })
    await waitFor(() => plain.lastEventId !== '', 2000, 'plain cursor')
    assert.equal(plain.lastEventId, hidden)
    await hub.close()
  })

  it('filters the live events held while a replay runs, without counting hidden ones against the queue', async () => {
    const { broker, release } = gatedReplayBroker()
    const hub = createHub({ broker, maxQueueEvents: 10 })
    const start = await hub.publish('feed', 'start')
    const sink = new MemorySink()
    let reason: CloseReason | undefined
    hub.connect(sink, {
      channels: ['feed'],
      lastEventId: start,
      canRead: isPublic,
      onClose: (why) => (reason = why),
    })
    for (let i = 0; i < 50; i++) await hub.publish('feed', `hidden ${i}`, { private: true })
    await hub.publish('feed', 'shown')
    assert.equal(reason, undefined, 'hidden events did not overflow the held queue')
    release()
    await waitFor(() => sink.events.length === 1, 2000, 'held event delivered')
    assert.equal(sink.events[0]?.data, 'shown')
    assert.ok(!sink.text.includes('hidden'))
    await hub.close()
  })

  it('moves the cursor past hidden events on the heartbeat, so history trimming them is no reset', async () => {
    const hub = createHub({ broker: new MemoryBroker({ historyLimit: 5 }), heartbeatMs: 20 })
    const sink = new MemorySink()
    hub.connect(sink, { channels: ['orders'], canRead: isPublic })
    await tick()
    await hub.publish('orders', 'public')
    const hidden: string[] = []
    for (let i = 0; i < 20; i++) hidden.push(await hub.publish('orders', `private ${i}`, { private: true }))
    const seqOfLastHidden = parseHubId(hidden.at(-1) ?? '')?.seq
    await waitFor(() => parseHubId(sink.lastEventId)?.seq === seqOfLastHidden, 2000, 'cursor on heartbeat')
    assert.ok(!hidden.includes(sink.lastEventId))
    const cursors = idsWritten(sink).length
    await sleep(100)
    assert.equal(idsWritten(sink).length, cursors, 'no cursor is repeated while nothing is hidden')

    // The "public" event and 15 hidden ones left history; resuming from the cursor loses nothing.
    const resumed = new MemorySink()
    hub.connect(resumed, { channels: ['orders'], canRead: isPublic, lastEventId: sink.lastEventId })
    await tick()
    await hub.publish('orders', 'next')
    await waitFor(() => resumed.events.length === 1, 2000, 'live event')
    assert.deepEqual(
      resumed.events.map((event) => event.type),
      ['message'],
      'no reset event',
    )
    // The same client resuming from its last readable event would have been reset: the test is sharp.
    const stale = new MemorySink()
    hub.connect(stale, { channels: ['orders'], canRead: isPublic, lastEventId: sink.events[0]?.lastEventId })
    await waitFor(() => stale.events.length > 0, 2000, 'reset')
    assert.equal(stale.events[0]?.type, RESET_EVENT)
    assert.ok(!hidden.includes(stale.lastEventId))
    await hub.close()
  })
})

describe('replay bounds', () => {
  it('answers a resume that would replay more than replayLimit events with a reset, never a backlog', async () => {
    const hub = createHub({ replayLimit: 10 })
    const start = await hub.publish('feed', 'start')
    for (let i = 0; i < 11; i++) await hub.publish('feed', `e${i}`)
    const flooded = new MemorySink()
    hub.connect(flooded, { channels: ['feed'], lastEventId: start })
    await waitFor(() => flooded.events.length > 0, 2000, 'reset')
    assert.equal(flooded.events[0]?.type, RESET_EVENT)
    assert.equal(JSON.parse(flooded.events[0]?.data ?? '{}').reason, 'limit')
    assert.equal(flooded.events.length, 1, 'no backlog is streamed')
    // The reset's cursor resumes without resetting again.
    const next = new MemorySink()
    hub.connect(next, { channels: ['feed'], lastEventId: flooded.lastEventId })
    await hub.publish('feed', 'live')
    await waitFor(() => next.events.length === 1, 2000, 'live')
    assert.equal(next.events[0]?.data, 'live')
    await hub.close()
  })
})

describe('session expiry', () => {
  it('ends sessions at their expiry from one shared timer', async () => {
    await countingIntervals(async (running, started) => {
      const hub = createHub({ heartbeatMs: false, expirySweepMs: 20 })
      const reasons: CloseReason[] = []
      const sinks = Array.from({ length: 100 }, () => new MemorySink())
      const expiresAt = Date.now() + 150
      for (const sink of sinks) {
        hub.connect(sink, { channels: ['a'], expiresAt, onClose: (reason) => reasons.push(reason) })
      }
      const forever = new MemorySink()
      hub.connect(forever, { channels: ['a'] })
      assert.equal(started(), 1, 'one timer for 100 expiring sessions')
      await tick()
      assert.equal(reasons.length, 0)
      await withTimeout(
        waitFor(() => reasons.length === 100, 2000, 'expiry'),
        3000,
      )
      assert.ok(Date.now() >= expiresAt, 'no session ended before its expiry')
      assert.ok(reasons.every((reason) => reason === 'expired'))
      assert.ok(sinks.every((sink) => sink.closed))
      assert.equal(forever.closed, false)
      assert.equal(hub.stats().sessions, 1)
      assert.equal(running(), 0, 'the sweep timer stopped with the last expiring session')
      assert.equal(started(), 1)
      await hub.close()
    })
  })

  it('forgets an expiring session that disconnects first, and rejects a non-finite expiry', async () => {
    await countingIntervals(async (running) => {
      const hub = createHub({ heartbeatMs: false, expirySweepMs: 20 })
      const sink = new MemorySink()
      let reason: CloseReason | undefined
      hub.connect(sink, { channels: ['a'], expiresAt: Date.now() + 60_000, onClose: (why) => (reason = why) })
      assert.equal(running(), 1)
      sink.disconnect()
      await waitFor(() => reason !== undefined, 1000, 'disconnect')
      assert.equal(reason, 'disconnect')
      assert.equal(running(), 0, 'the sweep timer stopped')
      assert.throws(
        () => hub.connect(new MemorySink(), { channels: ['a'], expiresAt: Number.NaN }),
        (error: unknown) => isSseError(error, 'SSE_ERR_OPTION_INVALID'),
      )
      await hub.close()
    })
  })
})
