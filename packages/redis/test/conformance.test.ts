import { after, describe } from 'node:test'
import {
  deleteKeys,
  REDIS_SERVER,
  REDIS_URL,
  RedisServer,
  redisSkip,
  runBrokerConformance,
} from '@ssehub/testkit'
import { RedisBroker } from '../src/index.js'

const skip = redisSkip('redis')

if (skip) {
  describe('broker conformance: RedisBroker', { skip }, () => {})
} else {
  // One spawned redis-server for the whole suite (REDIS_URL only without a binary); every
  // created cluster gets its own key prefix on it, so clusters never see each other's data.
  let server: Promise<RedisServer> | undefined
  const url = async (): Promise<string> => {
    if (REDIS_SERVER === undefined && REDIS_URL !== undefined) return REDIS_URL
    server ??= RedisServer.start()
    return (await server).url
  }
  after(async () => {
    await (await server)?.close()
  })
  let clusters = 0
  const run = `${process.pid}-${Date.now().toString(36)}`

  runBrokerConformance({
    name: 'RedisBroker',
    createCluster: async (nodes, history) => {
      const redis = await url()
      const keyPrefix = `conformance-${run}-${++clusters}:`
      const brokers = Array.from(
        { length: nodes },
        () => new RedisBroker({ url: redis, keyPrefix, reconnectStrategy: 100, ...history }),
      )
      await Promise.all(brokers.map((broker) => broker.connect(5000)))
      const base = (brokers[0] as RedisBroker).keyBase
      return {
        brokers,
        wipe: () => deleteKeys(redis, base),
        cleanup: async () => {
          await Promise.all(brokers.map((broker) => broker.close()))
          await deleteKeys(redis, base)
        },
      }
    },
  })
}
