import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isSseError } from '@ssehub/core'
import {
  RedisClusterFixture,
  type RedisServer,
  redisSkip,
  runBrokerConformance,
  waitFor,
  withTimeout,
} from '@ssehub/testkit'
import { RedisBroker } from '../src/index.js'

const skip = redisSkip('cluster')

if (skip) {
  describe('RedisBroker on a Redis Cluster', { skip }, () => {})
} else {
  // Three masters, started once for this file; every broker cluster gets its own key prefix,
  // which lands on whichever master owns its hash tag's slot.
  let fixture: Promise<RedisClusterFixture> | undefined
  const cluster = (): Promise<RedisClusterFixture> => {
    fixture ??= RedisClusterFixture.start(3, { persistent: true })
    return fixture
  }
  after(async () => {
    await (await fixture)?.close()
  })
  let prefixes = 0
  const run = `${process.pid}-${Date.now().toString(36)}`
  const newPrefix = (): string => `cluster-${run}-${++prefixes}:`

  runBrokerConformance({
    name: 'RedisBroker on a 3-master Redis Cluster',
    createCluster: async (nodes, history) => {
      const redis = await cluster()
      const keyPrefix = newPrefix()
      const brokers = Array.from(
        { length: nodes },
        () =>
          new RedisBroker({
            cluster: { rootNodes: redis.rootNodes },
            keyPrefix,
            reconnectStrategy: 100,
            ...history,
          }),
      )
      await Promise.all(brokers.map((broker) => broker.connect(8000)))
      const base = (brokers[0] as RedisBroker).keyBase
      return {
        brokers,
        wipe: () => redis.deleteKeys(base),
        cleanup: async () => {
          await Promise.all(brokers.map((broker) => broker.close()))
          await redis.deleteKeys(base)
        },
      }
    },
  })

  describe('RedisBroker on a Redis Cluster', () => {
    let redis: RedisClusterFixture
    before(async () => {
      redis = await withTimeout(cluster(), 30_000, 'cluster start')
    })

    it('spreads key prefixes over the masters, each prefix in one slot', async () => {
      const owners = new Set<string>()
      for (const prefix of ['a:', 'b:', 'c:', 'd:', 'e:', 'f:', 'g:', 'h:']) {
        const broker = new RedisBroker({ cluster: { rootNodes: redis.rootNodes }, keyPrefix: prefix })
        try {
          await broker.publish('x', { data: '1' })
          for (const server of redis.servers) {
            const keys = (await server.command('KEYS', `${broker.keyBase}*`)) as string[]
            if (keys.length > 0) {
              owners.add(String(server.port))
              assert.ok(keys.length >= 4, `all keys of ${prefix} on one master`)
            }
          }
        } finally {
          await broker.close()
          await redis.deleteKeys(broker.keyBase)
        }
      }
      assert.ok(owners.size >= 2, `8 prefixes landed on ${owners.size} master(s)`)
    })

    it('fails publishes while the master of its slot is down, and resumes without loss when it is back', async () => {
      const keyPrefix = newPrefix()
      const options = {
        cluster: { rootNodes: redis.rootNodes },
        keyPrefix,
        publishTimeoutMs: 500,
        reconnectStrategy: 50,
      }
      const node = new RedisBroker(options)
      const publisher = new RedisBroker(options)
      try {
        const received: string[] = []
        node.subscribe(['feed'], (event) => received.push(event.data))
        // A node delivers what is published once it knows where the feed stands.
        await Promise.all([node.connect(8000), publisher.connect(8000)])
        const first = await publisher.publish('feed', { data: '0' })
        await waitFor(() => received.length === 1, 5000, 'delivery before')
        let owner: RedisServer | undefined
        for (const server of redis.servers) {
          const keys = (await server.command('KEYS', `${node.keyBase}*`)) as string[]
          if (keys.length > 0) owner = server
        }
        assert.ok(owner)
        await owner.stop('SIGKILL')
        const started = Date.now()
        await assert.rejects(
          withTimeout(publisher.publish('feed', { data: 'lost' }), 5000, 'publish'),
          (error: unknown) => isSseError(error, 'SSE_ERR_BROKER_UNAVAILABLE'),
        )
        assert.ok(Date.now() - started < 900, `rejected after ${Date.now() - started} ms`)
        await waitFor(() => publisher.state() === 'degraded', 3000, 'degraded state')
        await owner.restart({ keepData: true })
        await redis.waitUntilOk()
        await waitFor(() => publisher.state() === 'ready' && node.state() === 'ready', 10_000, 'ready again')
        for (let i = 1; i <= 5; i++) await publisher.publish('feed', { data: String(i) })
        await waitFor(() => received.length === 6, 5000, 'delivery after')
        assert.deepEqual(received, ['0', '1', '2', '3', '4', '5'])
        const across = await node.replay(first.id, ['feed'], 100)
        assert.ok(across.complete)
        assert.equal(across.epoch, first.epoch)
        assert.deepEqual(
          across.events.map((event) => event.data),
          ['1', '2', '3', '4', '5'],
        )
      } finally {
        await node.close()
        await publisher.close()
        await redis.deleteKeys(node.keyBase)
      }
    })

    it('holds two connections per broker in the cluster, whatever its subscriptions', async () => {
      const count = async (): Promise<number> => {
        let total = 0
        for (const server of redis.servers) {
          const list = String(await server.command('CLIENT', 'LIST'))
          total += list.split('\n').filter((line) => /name=ssehub-(commands|reader)\b/.test(line)).length
        }
        return total
      }
      const before = await count()
      const broker = new RedisBroker({ cluster: { rootNodes: redis.rootNodes }, keyPrefix: newPrefix() })
      try {
        await broker.connect(8000)
        const received: string[] = []
        for (let i = 0; i < 100; i++)
          broker.subscribe([`room/${i % 50}`], (event) => received.push(event.data))
        for (let i = 0; i < 50; i++) await broker.publish(`room/${i}`, { data: String(i) })
        await waitFor(() => received.length === 100, 5000, 'delivery')
        assert.equal((await count()) - before, 2)
      } finally {
        await broker.close()
        await redis.deleteKeys(broker.keyBase)
      }
    })
  })
}
