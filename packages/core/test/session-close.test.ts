import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type CloseReason, createHub, isSseError } from '@ssehub/core'
import { MemorySink, waitFor } from '@ssehub/testkit'

describe('Session.close', () => {
  it('ends with the given reason after a last retry hint, told to onClose and the observer', async () => {
    const observed: CloseReason[] = []
    const hub = createHub({
      heartbeatMs: false,
      retryMs: 2000,
      observer: { closed: (_s, r) => observed.push(r) },
    })
    const sink = new MemorySink()
    let told: CloseReason | undefined
    const session = hub.connect(sink, { channels: ['c'], onClose: (reason) => (told = reason) })
    await waitFor(() => sink.lastEventId !== '', 2000, 'replay done')
    await hub.publish('c', 'one')
    session.close({ reason: 'drain', retryMs: 1234 })
    assert.equal(session.closeReason, 'drain')
    assert.equal(told, 'drain')
    assert.deepEqual(observed, ['drain'])
    assert.equal(sink.closed, true)
    assert.deepEqual(sink.retries, [2000, 1234], 'the hint on connect, then the last one')
    assert.ok(sink.text.endsWith('retry: 1234\n\n'), JSON.stringify(sink.text))
    assert.deepEqual(
      sink.events.map((event) => event.data),
      ['one'],
    )
    session.close({ reason: 'lifetime', retryMs: 5 })
    assert.equal(session.closeReason, 'drain', 'idempotent: the first reason stays')
    assert.deepEqual(sink.retries, [2000, 1234])
    await hub.close()
  })

  it('defaults to the reason closed and no hint', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false })
    const sink = new MemorySink()
    const session = hub.connect(sink, { channels: ['c'] })
    session.close()
    assert.equal(session.closeReason, 'closed')
    assert.deepEqual(sink.retries, [])
    await hub.close()
  })

  it('refuses a retry hint that is not a non-negative integer and leaves the session open', async () => {
    const hub = createHub({ heartbeatMs: false })
    const sink = new MemorySink()
    const session = hub.connect(sink, { channels: ['c'] })
    for (const retryMs of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => session.close({ reason: 'lifetime', retryMs }),
        (error: unknown) => isSseError(error) && error.code === 'SSE_ERR_WIRE_INVALID_RETRY',
      )
    }
    assert.equal(session.closeReason, undefined)
    assert.equal(hub.stats().sessions, 1)
    await hub.close()
  })

  it('leaves the hint out for a client that is not reading, and ends the session all the same', async () => {
    const hub = createHub({ heartbeatMs: false, retryMs: false })
    const sink = new MemorySink({ highWaterMark: 1, paused: true })
    const session = hub.connect(sink, { channels: ['c'] })
    await waitFor(() => sink.writes > 0, 2000, 'the cursor written')
    await hub.publish('c', 'queued behind the unread cursor')
    assert.ok(session.queuedEvents > 0, 'the client is not reading')
    session.close({ reason: 'drain', retryMs: 1000 })
    assert.equal(session.closeReason, 'drain')
    assert.deepEqual(sink.retries, [])
    assert.equal(sink.closed, true)
    await hub.close()
  })
})
