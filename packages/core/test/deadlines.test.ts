import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Deadlines } from '@ssehub/core'
import { sleep, waitFor } from '@ssehub/testkit'

describe('Deadlines', () => {
  it('ends each item once, never before its deadline, and stops its timer when empty', async () => {
    const ended: { item: string; late: number }[] = []
    const deadlineOf = new Map<string, number>()
    const deadlines = new Deadlines<string>(10, (item) => {
      ended.push({ item, late: Date.now() - (deadlineOf.get(item) ?? 0) })
    })
    const now = Date.now()
    for (const [item, ms] of [
      ['a', 20],
      ['b', 20],
      ['c', 60],
    ] as const) {
      deadlineOf.set(item, now + ms)
      deadlines.add(item, now + ms)
    }
    assert.equal(deadlines.size, 3)
    await waitFor(() => ended.length === 3, 2000, 'every deadline')
    assert.deepEqual(ended.map((entry) => entry.item).sort(), ['a', 'b', 'c'])
    for (const entry of ended) assert.ok(entry.late >= 0, `${entry.item} ended ${-entry.late} ms early`)
    assert.equal(deadlines.size, 0)
    await sleep(40)
    assert.equal(ended.length, 3, 'no item ends twice')
  })

  it('forgets a deleted item, and skips one that an earlier item of the same tick ended', async () => {
    const ended: string[] = []
    const deadlines: Deadlines<string> = new Deadlines<string>(10, (item) => {
      ended.push(item)
      // Ending one item ends its partner too, as closing a session would.
      deadlines.delete(item === 'x' ? 'y' : 'x')
    })
    const at = Date.now() + 15
    deadlines.add('x', at)
    deadlines.add('y', at)
    deadlines.add('gone', at)
    deadlines.delete('gone')
    await waitFor(() => deadlines.size === 0, 2000, 'the tick')
    await sleep(30)
    assert.equal(ended.length, 1, `ended: ${ended.join(', ')}`)
    assert.ok(!ended.includes('gone'))
  })

  it('clear() forgets everything and stops the timer', async () => {
    const ended: string[] = []
    const deadlines = new Deadlines<string>(10, (item) => ended.push(item))
    deadlines.add('a', Date.now() + 10)
    deadlines.clear()
    assert.equal(deadlines.size, 0)
    await sleep(40)
    assert.deepEqual(ended, [])
  })
})
