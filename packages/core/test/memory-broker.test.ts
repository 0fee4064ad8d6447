import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBroker, MemoryBus } from '@ssehub/core'
import { runBrokerConformance } from '@ssehub/testkit'

runBrokerConformance({
  name: 'MemoryBroker',
  createCluster: async (nodes, history) => {
    const bus = new MemoryBus(history)
    const brokers = Array.from({ length: nodes }, () => new MemoryBroker({ bus }))
    return {
      brokers,
      wipe: async () => bus.wipe(),
      cleanup: async () => {
        for (const broker of brokers) await broker.close()
      },
    }
  },
})

describe('MemoryBroker bounds', () => {
  it('keeps total history under the byte bound by dropping the oldest events first', async () => {
    const broker = new MemoryBroker({ historyMaxBytes: 50_000, historyLimit: 1_000_000 })
    const first = await broker.publish('a', { data: 'x'.repeat(1000) })
    for (let i = 0; i < 200; i++) await broker.publish(i % 2 ? 'a' : 'b', { data: 'x'.repeat(1000) })
    assert.ok(broker.bus.size < 30, `history holds ${broker.bus.size} events`)
    const result = await broker.replay(first.id, ['a'], 1000)
    assert.equal(!result.complete && result.reason, 'trimmed')
  })

  it('keeps no history with historyLimit 0, and says so on resume', async () => {
    const broker = new MemoryBroker({ historyLimit: 0 })
    const first = await broker.publish('a', { data: '1' })
    await broker.publish('a', { data: '2' })
    assert.equal(broker.bus.size, 0)
    const result = await broker.replay(first.id, ['a'], 1000)
    assert.equal(!result.complete && result.reason, 'trimmed')
  })

  it('stays proportional to live history when one channel churns past an old event', async () => {
    const broker = new MemoryBroker({ historyLimit: 10, historyTtlMs: false })
    await broker.publish('old', { data: 'kept' })
    for (let i = 0; i < 50_000; i++) await broker.publish('busy', { data: String(i) })
    assert.equal(broker.bus.size, 11)
    assert.ok(broker.bus.storedRecords < 3000, `log holds ${broker.bus.storedRecords} records`)
  })

  it('forgets fully expired channels in bounded memory yet still reports their loss', async () => {
    let now = 1_000_000
    const broker = new MemoryBroker({ historyTtlMs: 1000, now: () => now })
    const first = await broker.publish('gone', { data: '1' })
    await broker.publish('gone', { data: '2' })
    now += 5000
    await broker.publish('other', { data: 'x' })
    assert.equal(broker.bus.size, 1)
    const result = await broker.replay(first.id, ['gone'], 1000)
    assert.equal(!result.complete && result.reason, 'expired')
  })

  it('rejects invalid bounds with a coded error', () => {
    assert.throws(() => new MemoryBroker({ historyLimit: -1 }), { code: 'SSE_ERR_OPTION_INVALID' })
    assert.throws(() => new MemoryBroker({ historyTtlMs: 0 }), { code: 'SSE_ERR_OPTION_INVALID' })
  })
})
