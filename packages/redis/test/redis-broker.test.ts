import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type BrokerEvent, createHub, isSseError } from '@ssehub/core'
import {
  deleteKeys,
  freePort,
  MemorySink,
  REDIS_SERVER,
  REDIS_URL,
  RedisServer,
  redisCommand,
  redisSkip,
  waitFor,
  withTimeout,
} from '@ssehub/testkit'
import { createClient } from 'redis'
import { type ConnectionRole, RedisBroker, type RedisBrokerOptions } from '../src/index.js'

describe('RedisBroker options', () => {
  it('rejects invalid options with SSE_ERR_OPTION_INVALID before connecting', () => {
    const invalid: RedisBrokerOptions[] = [
      { historyLimit: -1 },
      { historyLimit: 1.5 },
      { historyTtlMs: 0 },
      { historyTtlMs: 10.5 },
      { feedLimit: 0 },
      { channelLimit: 0 },
      { publishTimeoutMs: 0 },
      { keyPrefix: '' },
      { keyPrefix: 'a{}' },
      { keyPrefix: 'a{b' },
      { keyPrefix: '{a}{b}' },
      { url: 'http://127.0.0.1:6379' },
      { url: 'not a url' },
      { url: 'redis://127.0.0.1:1', cluster: { rootNodes: [] } },
      { reconnectStrategy: -5 },
    ]
    for (const options of invalid) {
      assert.throws(
        () => new RedisBroker(options),
        { code: 'SSE_ERR_OPTION_INVALID' },
        JSON.stringify(options),
      )
    }
  })
})

const skip = redisSkip('redis')

describe('RedisBroker', { skip }, () => {
  let server: RedisServer | undefined
  let url: string
  const brokers: RedisBroker[] = []
  let prefixes = 0
  const run = `${process.pid}-${Date.now().toString(36)}`
  const newPrefix = (): string => `broker-${run}-${++prefixes}:`
  const broker = (options: RedisBrokerOptions = {}): RedisBroker => {
    const created = new RedisBroker({ url, keyPrefix: newPrefix(), reconnectStrategy: 50, ...options })
    brokers.push(created)
    return created
  }
  const command = (...args: string[]): Promise<unknown> => redisCommand(url, args)

  before(async () => {
    if (REDIS_SERVER === undefined && REDIS_URL !== undefined) url = REDIS_URL
    else {
      server = await RedisServer.start()
      url = server.url
    }
  })
  after(async () => {
    for (const created of brokers) {
      await withTimeout(created.close(), 5000, 'close')
      // On a shared REDIS_URL, leave nothing behind.
      if (server === undefined) await deleteKeys(url, created.keyBase)
    }
    await server?.close()
  })

  it('holds two Redis connections, whatever the number of subscriptions and channels', async () => {
    const names = async (): Promise<string[]> =>
      String(await command('CLIENT', 'LIST'))
        .split('\n')
        .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '')
        .filter((name) => name.startsWith('ssehub-'))
    const before = (await names()).length
    const node = broker()
    await node.connect(5000)
    const received: BrokerEvent[] = []
    const subscriptions = Array.from({ length: 100 }, (_, i) =>
      node.subscribe([`room/${i % 50}`], (event) => received.push(event)),
    )
    for (let i = 0; i < 50; i++) await node.publish(`room/${i}`, { data: String(i) })
    await waitFor(() => received.length === 100, 5000, 'delivery to 100 subscriptions')
    const after = await names()
    assert.equal(after.length - before, 2)
    assert.deepEqual(after.slice(before).sort(), ['ssehub-commands', 'ssehub-reader'])
    for (const subscription of subscriptions) subscription.unsubscribe()
    assert.equal(node.subscriptionCount, 0)
  })

  it('keeps each channel history in Redis bounded by count, and the live feed by feedLimit', async () => {
    const node = broker({ historyLimit: 5, feedLimit: 100 })
    const first = await node.publish('bounded', { data: 'x'.repeat(1000) })
    for (let i = 0; i < 999; i++) await node.publish('bounded', { data: 'x'.repeat(1000) })
    assert.equal(await command('XLEN', `${node.keyBase}c:bounded`), 5)
    const feed = Number(await command('XLEN', `${node.keyBase}log`))
    assert.ok(feed >= 100 && feed < 300, `the feed holds ${feed} entries`)
    const bytes = Number(await command('MEMORY', 'USAGE', `${node.keyBase}c:bounded`))
    assert.ok(bytes < 20_000, `the channel history takes ${bytes} bytes for 5 events of 1 kB`)
    const result = await node.replay(first.id, ['bounded'], 10_000)
    assert.equal(!result.complete && result.reason, 'trimmed')
  })

  it('drops history from Redis by age, and says expired on resume', async () => {
    const node = broker({ historyTtlMs: 200 })
    const first = await node.publish('aging', { data: '1' })
    await node.publish('aging', { data: '2' })
    const key = `${node.keyBase}c:aging`
    const ttl = Number(await command('PTTL', key))
    assert.ok(ttl > 0 && ttl <= 200, `PTTL ${ttl}`)
    await new Promise((resolve) => setTimeout(resolve, 350))
    assert.equal(await command('EXISTS', key), 0)
    const result = await node.replay(first.id, ['aging'], 100)
    assert.equal(!result.complete && result.reason, 'expired')
    await node.publish('aging', { data: '3' })
    assert.equal(await command('XLEN', key), 1)
    const again = await node.replay(first.id, ['aging', 'other'], 100)
    assert.equal(!again.complete && again.reason, 'expired')
  })

  it('frees a publisher id when its event leaves history, and only then', async () => {
    const node = broker({ historyLimit: 2 })
    for (const id of ['x1', 'x2', 'x3']) await node.publish('ids', { data: id, id })
    assert.equal(await command('EXISTS', `${node.keyBase}i:x1`), 0)
    assert.equal(await command('EXISTS', `${node.keyBase}i:x3`), 1)
    const reused = await node.publish('ids', { data: 'again', id: 'x1' })
    assert.equal(reused.id, 'x1')
    await assert.rejects(node.publish('other', { data: 'dup', id: 'x3' }), (error: unknown) =>
      isSseError(error, 'SSE_ERR_ID_DUPLICATE'),
    )
    const unknown = await node.replay('x2', ['ids'], 100)
    assert.equal(!unknown.complete && unknown.reason, 'unknown')
  })

  it('forgets the least recently published channels past channelLimit, and says trimmed on resume', async () => {
    const node = broker({ channelLimit: 10 })
    const start = await node.publish('busy', { data: 'start' })
    const ids: string[] = []
    for (let i = 0; i < 30; i++) ids.push((await node.publish(`ch${i}`, { data: String(i) })).id)
    assert.equal(await command('ZCARD', `${node.keyBase}chans`), 10)
    assert.equal(await command('EXISTS', `${node.keyBase}c:ch0`), 0)
    // Like the memory broker: once channels are forgotten, no channel can vouch for the
    // forgotten stretch of the log any more, not even one never published to.
    for (const channel of ['ch0', 'ch29', 'never-published']) {
      const result = await node.replay(start.id, [channel], 100)
      assert.equal(!result.complete && result.reason, 'trimmed', channel)
    }
    const recent = await node.replay(ids[24], ['ch*', 'never-published'], 100)
    assert.ok(recent.complete)
    assert.deepEqual(
      recent.events.map((event) => event.data),
      ['25', '26', '27', '28', '29'],
    )
  })

  it('keeps data, event types and ids exact, whatever their characters', async () => {
    const node = broker()
    const received: BrokerEvent[] = []
    node.subscribe(['text/*'], (event) => received.push(event))
    const samples = [
      '',
      'line 1\nline 2\r\nline 3\rend',
      'ünïcødé ✓ 🚀',
      ' {"json": [1, 2]} ',
      'a'.repeat(100_000),
    ]
    const start = await node.publish('text/start', { data: 'start' })
    for (const [i, data] of samples.entries()) {
      await node.publish(`text/${i} with space`, { data, event: `type ✓ ${i}`, id: `id ✓ ${i}`, retry: i })
    }
    await waitFor(() => received.length === samples.length + 1, 5000, 'delivery')
    const replayed = await node.replay(start.id, ['text/*'], 100)
    assert.ok(replayed.complete)
    for (const events of [received.slice(1), replayed.events]) {
      assert.deepEqual(
        events.map((event) => [event.channel, event.data, event.event, event.id, event.retry]),
        samples.map((data, i) => [`text/${i} with space`, data, `type ✓ ${i}`, `id ✓ ${i}`, i]),
      )
    }
  })

  it('hands a private event back as private, live on every node and in replay', async () => {
    const keyPrefix = newPrefix()
    const publisher = broker({ keyPrefix })
    const other = broker({ keyPrefix })
    assert.equal(publisher.carriesPrivate, true)
    const received: BrokerEvent[] = []
    other.subscribe(['secret'], (event) => received.push(event))
    await other.connect(5000)
    const start = await publisher.publish('secret', { data: 'public' })
    const hidden = await publisher.publish('secret', { data: 'hidden', private: true })
    assert.equal(hidden.private, true)
    assert.equal(start.private, undefined)
    await waitFor(() => received.length === 2, 5000, 'delivery')
    assert.deepEqual(
      received.map((event) => event.private),
      [undefined, true],
    )
    const replayed = await other.replay(start.id, ['secret'], 10)
    assert.ok(replayed.complete)
    assert.deepEqual(replayed.events, [received[1]])
  })

  it('keeps hubs with distinct key prefixes on one Redis apart', async () => {
    const a = broker()
    const b = broker()
    const seenByB: BrokerEvent[] = []
    b.subscribe(['*'], (event) => seenByB.push(event))
    const fromA = await a.publish('shared', { data: 'a', id: 'same-id' })
    const fromB = await b.publish('shared', { data: 'b', id: 'same-id' })
    assert.notEqual(fromA.epoch, fromB.epoch)
    await waitFor(() => seenByB.length === 1, 5000, 'delivery on b')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(
      seenByB.map((event) => event.data),
      ['b'],
    )
  })

  it('resumes a hub session from a Last-Event-ID on another node', async () => {
    const keyPrefix = newPrefix()
    const nodeA = broker({ keyPrefix })
    const nodeB = broker({ keyPrefix })
    const hubA = createHub({ broker: nodeA, heartbeatMs: false })
    const hubB = createHub({ broker: nodeB, heartbeatMs: false })
    try {
      const first = await hubA.publish('orders', { n: 1 })
      await hubA.publish('orders', { n: 2 })
      await hubA.publish('orders/eu', { n: 3 })
      const sink = new MemorySink()
      hubB.connect(sink, { channels: ['orders', 'orders/*'], lastEventId: first })
      await waitFor(() => sink.events.length >= 2, 5000, 'replay on the other node')
      await hubA.publish('orders', { n: 4 })
      await waitFor(() => sink.events.length >= 3, 5000, 'live on the other node')
      assert.deepEqual(
        sink.events.map((event) => JSON.parse(event.data).n),
        [2, 3, 4],
      )
    } finally {
      await hubA.close()
      await hubB.close()
    }
  })

  it('speaks RESP2 as well as RESP3', async () => {
    const node = broker({ client: { RESP: 2 } })
    const received: BrokerEvent[] = []
    node.subscribe(['r2'], (event) => received.push(event))
    const first = await node.publish('r2', { data: '1', event: 'e' })
    await node.publish('r2', { data: '2', retry: 10 })
    await waitFor(() => received.length === 2, 5000, 'delivery')
    const result = await node.replay(first.id, ['r2'], 10)
    assert.ok(result.complete)
    assert.deepEqual(result.events, received.slice(1))
  })

  it('uses clients from an injected factory, one per role', async () => {
    const roles: ConnectionRole[] = []
    const node = new RedisBroker({
      keyPrefix: newPrefix(),
      createClient: (role) => {
        roles.push(role)
        return createClient({ url, name: `custom-${role}` })
      },
    })
    brokers.push(node)
    await node.publish('custom', { data: 'x' })
    assert.deepEqual(roles.sort(), ['commands', 'reader'])
    const list = String(await command('CLIENT', 'LIST'))
    assert.match(list, /name=custom-commands/)
    assert.match(list, /name=custom-reader/)
  })

  it('reports a listener error to onError and goes on delivering', async () => {
    const errors: unknown[] = []
    const node = broker({ onError: (error) => errors.push(error) })
    const received: string[] = []
    node.subscribe(['boom'], () => {
      throw new Error('listener bug')
    })
    node.subscribe(['boom'], (event) => received.push(event.data))
    await node.publish('boom', { data: '1' })
    await node.publish('boom', { data: '2' })
    await waitFor(() => received.length === 2, 5000, 'delivery')
    assert.equal(errors.length, 2)
  })

  it('closes at once with a blocking read in flight, and refuses work afterwards', async () => {
    const node = broker()
    await node.connect(5000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = Date.now()
    await node.close()
    assert.ok(Date.now() - started < 500, `close took ${Date.now() - started} ms`)
    assert.equal(node.state(), 'closed')
    await assert.rejects(node.replay(undefined, ['a'], 1), (error: unknown) =>
      isSseError(error, 'SSE_ERR_BROKER_CLOSED'),
    )
    assert.throws(() => node.subscribe(['a'], () => {}), { code: 'SSE_ERR_BROKER_CLOSED' })
  })
})

describe('RedisBroker without a reachable Redis', () => {
  it('fails connect, publish and replay within their bound with SSE_ERR_BROKER_UNAVAILABLE', async () => {
    const port = await freePort()
    const node = new RedisBroker({
      url: `redis://127.0.0.1:${port}`,
      publishTimeoutMs: 300,
      reconnectStrategy: 50,
    })
    try {
      const attempts: (() => Promise<unknown>)[] = [
        () => node.connect(),
        () => node.publish('a', { data: 'x' }),
        () => node.replay('abcdef.1', ['a'], 10),
      ]
      for (const attempt of attempts) {
        const started = Date.now()
        await assert.rejects(withTimeout(attempt(), 2000, 'attempt'), (error: unknown) =>
          isSseError(error, 'SSE_ERR_BROKER_UNAVAILABLE'),
        )
        const elapsed = Date.now() - started
        assert.ok(elapsed >= 250 && elapsed < 600, `rejected after ${elapsed} ms`)
      }
      assert.equal(node.state(), 'degraded')
    } finally {
      await node.close()
    }
    assert.equal(node.state(), 'closed')
  })
})
