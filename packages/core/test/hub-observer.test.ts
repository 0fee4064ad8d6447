import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type CloseReason, createHub, type HubObserver, MemoryBroker, type Session } from '@ssehub/core'
import { MemorySink, waitFor } from '@ssehub/testkit'

function recorder(): { log: string[]; observer: HubObserver } {
  const log: string[] = []
  const observer: HubObserver = {
    connected: (session: Session) => log.push(`connected ${session.id} ${session.info.subject ?? '-'}`),
    closed: (session: Session, reason: CloseReason) => log.push(`closed ${session.id} ${reason}`),
    published: (event) => log.push(`published ${event.channel} ${event.seq}`),
    delivered: (event, sessions) => log.push(`delivered ${event.seq} to ${sessions}`),
    replayed: (session, events) => log.push(`replayed ${session.id} ${events}`),
    reset: (session, reason) => log.push(`reset ${session.id} ${reason}`),
  }
  return { log, observer }
}

describe('Hub observer', () => {
  it('reports connects, publishes, fan-outs, replays and closes with their reasons', async () => {
    const { log, observer } = recorder()
    const hub = createHub({ observer, heartbeatMs: false })
    const a = new MemorySink()
    const b = new MemorySink()
    const first = hub.connect(a, { channels: ['news'], info: { subject: 'alice' } })
    hub.connect(b, { channels: ['n*'] })
    assert.deepEqual(first.info, { subject: 'alice' })
    await waitFor(() => log.filter((line) => line.startsWith('replayed')).length === 2, 2000, 'replays')
    await hub.publish('news', 'hello')
    await waitFor(() => b.events.length === 1 && a.events.length === 1, 2000, 'deliveries')
    first.close()
    assert.deepEqual(log, [
      'connected 1 alice',
      'connected 2 -',
      'replayed 1 0',
      'replayed 2 0',
      // The memory broker delivers before the publish resolves; other brokers may not.
      'delivered 1 to 1',
      'delivered 1 to 1',
      'published news 1',
      'closed 1 closed',
    ])
    await hub.close()
    assert.equal(log.at(-1), 'closed 2 hub-closed')
  })

  it('counts a session whose channel and pattern both match an event once', async () => {
    const { log, observer } = recorder()
    const hub = createHub({ observer, heartbeatMs: false })
    const both = new MemorySink()
    const one = new MemorySink()
    hub.connect(both, { channels: ['news', 'n*'] })
    hub.connect(one, { channels: ['news'] })
    await waitFor(() => log.filter((line) => line.startsWith('replayed')).length === 2, 2000, 'replays')
    await hub.publish('news', 'hello')
    await waitFor(() => both.events.length === 1 && one.events.length === 1, 2000, 'deliveries')
    const fanOut = log.filter((line) => line.startsWith('delivered'))
    // Through 'news' both sessions take it; through 'n*' the first already has it: no call.
    assert.deepEqual(fanOut, ['delivered 1 to 2'])
    await hub.close()
    assert.equal(both.events.length, 1)
  })

  it('reports a replay with its size, and a reset with its reason', async () => {
    const { log, observer } = recorder()
    const broker = new MemoryBroker({ historyLimit: 2 })
    const hub = createHub({ observer, broker, heartbeatMs: false })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await hub.publish('c', `e${i}`))
    const replaying = hub.connect(new MemorySink(), { channels: ['c'], lastEventId: ids[3] })
    const resetting = hub.connect(new MemorySink(), { channels: ['c'], lastEventId: ids[0] })
    await waitFor(() => log.some((line) => line.startsWith(`reset ${resetting.id}`)), 2000, 'the reset')
    assert.ok(log.includes(`replayed ${replaying.id} 1`), log.join('\n'))
    assert.ok(log.includes(`reset ${resetting.id} trimmed`), log.join('\n'))
    await hub.close()
  })

  it('lists sessions per channel, patterns included, and the selectors in use', async () => {
    const hub = createHub({ heartbeatMs: false })
    const one = hub.connect(new MemorySink(), { channels: ['room/1'], info: { subject: 's1' } })
    const all = hub.connect(new MemorySink(), { channels: ['room/*', 'other'] })
    assert.deepEqual(
      hub
        .sessionsOn('room/1')
        .map((session) => session.id)
        .sort(),
      [one.id, all.id].sort(),
    )
    assert.deepEqual(hub.sessionsOn('room/2'), [all])
    assert.deepEqual(
      hub.selectors().sort((x, y) => x.selector.localeCompare(y.selector)),
      [
        { selector: 'other', sessions: 1 },
        { selector: 'room/*', sessions: 1 },
        { selector: 'room/1', sessions: 1 },
      ],
    )
    assert.equal([...hub.sessions()].length, 2)
    assert.ok(one.connectedAt <= Date.now())
    await hub.close()
    assert.deepEqual(hub.selectors(), [])
  })
})
