import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isPattern, matches } from '@ssehub/core'
import { resolveServeConfig } from 'ssehub'
import { RateLimiter } from '../src/limits/rate-limiter.js'
import { answer, publishJson, request, startHub, type TestHub } from './helpers.js'
import { SECRET, token } from './security-helpers.js'

async function subscribeStatus(hub: TestHub, query: string, headers: Record<string, string> = {}) {
  const response = await request(hub.at(`events?${query}`), { headers })
  if (response.status === 200) {
    await response.body?.cancel()
    return { status: 200, code: undefined, field: undefined }
  }
  const { status, body } = await answer(response)
  return { status, code: body.error.code, field: body.error.field }
}

describe('input limits', () => {
  it('wires --max-channels, --max-channel-length, --max-pattern-length and --max-id-length through to the hub', async (t) => {
    const config = resolveServeConfig(
      [
        '--max-channels',
        '3',
        '--max-channel-length',
        '12',
        '--max-pattern-length',
        '6',
        '--max-id-length',
        '16',
      ],
      {},
    )
    const hub = await startHub({ ...config, host: '127.0.0.1', port: 0, heartbeatMs: false })
    t.after(() => hub.close())
    assert.equal((await subscribeStatus(hub, 'channel=a&channel=b&channel=c')).status, 200)
    assert.deepEqual(await subscribeStatus(hub, 'channel=a&channel=b&channel=c&channel=d'), {
      status: 400,
      code: 'SSE_ERR_SUBSCRIBE_TOO_MANY',
      field: 'channel',
    })
    assert.equal((await subscribeStatus(hub, `channel=${'c'.repeat(12)}`)).status, 200)
    assert.deepEqual(await subscribeStatus(hub, `channel=${'c'.repeat(13)}`), {
      status: 400,
      code: 'SSE_ERR_CHANNEL_INVALID',
      field: 'channel',
    })
    assert.equal((await subscribeStatus(hub, 'channel=abcde*')).status, 200)
    assert.deepEqual(await subscribeStatus(hub, 'channel=abcdef*'), {
      status: 400,
      code: 'SSE_ERR_PATTERN_INVALID',
      field: 'channel',
    })
    assert.equal((await subscribeStatus(hub, 'channel=a', { 'last-event-id': 'x'.repeat(16) })).status, 200)
    assert.deepEqual(await subscribeStatus(hub, 'channel=a', { 'last-event-id': 'x'.repeat(17) }), {
      status: 400,
      code: 'SSE_ERR_LAST_EVENT_ID_TOO_LONG',
      field: 'lastEventId',
    })
    const longId = await publishJson(hub, { channel: 'a', data: 'x', id: 'i'.repeat(17) })
    assert.deepEqual([longId.status, longId.body.error.code], [400, 'SSE_ERR_ID_TOO_LONG'])
    const longChannel = await publishJson(hub, { channel: 'c'.repeat(13), data: 'x' })
    assert.deepEqual([longChannel.status, longChannel.body.error.field], [400, 'channel'])
  })

  it('answers 413 for event data over --max-data-bytes, counted in UTF-8 bytes', async (t) => {
    const hub = await startHub({ maxDataBytes: 10 })
    t.after(() => hub.close())
    assert.equal((await publishJson(hub, { channel: 'a', data: 'é'.repeat(5) })).status, 200)
    const over = await publishJson(hub, { channel: 'a', data: `${'é'.repeat(5)}x` })
    assert.deepEqual(
      [over.status, over.body.error.code, over.body.error.field],
      [413, 'SSE_ERR_DATA_TOO_LARGE', 'data'],
    )
    const json = await publishJson(hub, { channel: 'a', data: { k: 'long value' } })
    assert.equal(json.status, 413, 'JSON data counts as sent')
  })

  it('keeps pattern matching linear: the longest adversarial patterns cost microseconds', () => {
    const pattern = `${'a'.repeat(199)}*`
    const channel = `${'a'.repeat(198)}b`
    assert.ok(isPattern(pattern))
    const started = process.hrtime.bigint()
    for (let i = 0; i < 10_000; i++) matches(pattern, channel)
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    assert.ok(ms < 500, `10,000 worst-case matches took ${ms} ms`)
  })
})

describe('publish rate', () => {
  it('answers 429 with Retry-After past the rate of a token subject, other subjects unaffected', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, publishRate: 2, publishBurst: 3 })
    t.after(() => hub.close())
    const alice = { authorization: `Bearer ${await token({ publish: ['*'] }, { sub: 'alice' })}` }
    const aliceAgain = { authorization: `Bearer ${await token({ publish: ['*'] }, { sub: 'alice' })}` }
    const bob = { authorization: `Bearer ${await token({ publish: ['*'] }, { sub: 'bob' })}` }
    for (let i = 0; i < 3; i++)
      assert.equal((await publishJson(hub, { channel: 'a', data: i }, alice)).status, 200)
    const limited = await publishJson(hub, { channel: 'a', data: 'x' }, aliceAgain)
    assert.deepEqual([limited.status, limited.body.error.code], [429, 'SSEHUB_ERR_RATE_LIMITED'])
    assert.ok(Number(limited.headers.get('retry-after')) >= 1)
    assert.equal((await publishJson(hub, { channel: 'a', data: 'x' }, bob)).status, 200)
    const batch = await publishJson(
      hub,
      [
        { channel: 'a', data: 1 },
        { channel: 'a', data: 2 },
        { channel: 'a', data: 3 },
      ],
      bob,
    )
    assert.equal(batch.status, 429, 'an array pays for each of its events')
  })

  it('limits anonymous publishers by client address', async (t) => {
    const hub = await startHub({ publishRate: 1, publishBurst: 2 })
    t.after(() => hub.close())
    assert.equal((await publishJson(hub, { channel: 'a', data: 1 })).status, 200)
    assert.equal((await publishJson(hub, { channel: 'a', data: 2 })).status, 200)
    assert.equal((await publishJson(hub, { channel: 'a', data: 3 })).status, 429)
    // Refused before the body is read: garbage from a limited client is not even parsed.
    const garbage = await publishJson(hub, '{not json')
    assert.equal(garbage.status, 429)
  })

  it('refills at the configured rate, lets a burst-sized batch into debt, and forgets the least recent keys', () => {
    let clock = 0
    const limiter = new RateLimiter({ perSecond: 10, burst: 5, maxKeys: 100, now: () => clock })
    for (let i = 0; i < 5; i++) assert.equal(limiter.take('a', 1), 0)
    assert.equal(limiter.take('a', 1), 1)
    clock += 100
    assert.equal(limiter.take('a', 1), 0, 'one token back after 100 ms at 10/s')
    clock += 1000
    assert.equal(limiter.take('b', 8), 0, 'more than the burst: allowed from a full bucket, into debt')
    assert.equal(limiter.take('b', 1), 1, 'then the debt is waited off')
    clock += 400
    assert.equal(limiter.take('b', 1), 0)
    for (let i = 0; i < 10_000; i++) limiter.take(`key-${i}`, 1)
    assert.equal(limiter.size, 100, 'memory stays bounded however many publishers appear')
  })
})
