import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { MemoryBroker } from '@ssehub/core'
import { sleep } from '@ssehub/testkit'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * Collects until `ref` is gone. Each round starts a fresh task: `deref()` keeps its target alive
 * until the end of the current job, so a collection in the same job could not free it.
 */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    await sleep(0)
    gc()
    if (ref.deref() === undefined) return true
  }
  return false
}

describe('memory broker retention', () => {
  for (const historyTtlMs of [3_600_000, false] as const) {
    it(`lets trimmed events be garbage-collected (history ttl ${historyTtlMs})`, async () => {
      const broker = new MemoryBroker({ historyLimit: 10, historyTtlMs })
      const first = new WeakRef(await broker.publish('a', { data: `first ${'x'.repeat(1000)}` }))
      // Far more than the history and than the log's compaction thresholds.
      for (let i = 0; i < 5_000; i++) await broker.publish(i % 2 === 0 ? 'a' : 'b', { data: `event ${i}` })
      assert.equal(broker.bus.size, 20)
      assert.ok(await collected(first), 'the trimmed event is unreachable')
      await broker.close()
    })
  }
})
