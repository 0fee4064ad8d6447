import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { describe, it } from 'node:test'
import { openSse, type SseStream, sleep, waitFor } from '@ssehub/testkit'
import { addressKey, clientAddress } from '../src/limits/client-address.js'
import { answer, publishJson, request, startHub, type TestHub } from './helpers.js'
import { SECRET, token } from './security-helpers.js'

async function refusal(hub: TestHub, headers: Record<string, string> = {}, query = 'channel=news') {
  const response = await request(hub.at(`events?${query}`), { headers })
  assert.notEqual(response.status, 200, 'refused')
  return answer(response)
}

async function streams(
  hub: TestHub,
  count: number,
  headers: Record<string, string> = {},
): Promise<SseStream[]> {
  const open: SseStream[] = []
  for (let i = 0; i < count; i++) {
    const stream = await openSse(hub.at('events?channel=news'), { headers })
    assert.equal(stream.status, 200)
    open.push(stream)
  }
  return open
}

/** Every stream still receives a fresh event, in order after what it had. */
async function stillFlowing(
  hub: TestHub,
  open: readonly SseStream[],
  data: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const before = open.map((stream) => stream.events.length)
  assert.equal((await publishJson(hub, { channel: 'news', data }, headers)).status, 200)
  for (const [i, stream] of open.entries()) {
    const events = await stream.waitForEvents((before[i] ?? 0) + 1)
    assert.equal(events.at(-1)?.data, data)
  }
}

describe('connection limits', () => {
  it('answers 503 with Retry-After past the global limit while existing streams keep flowing', async (t) => {
    const hub = await startHub({ maxConnections: 3 })
    t.after(() => hub.close())
    const open = await streams(hub, 3)
    t.after(() => {
      for (const stream of open) stream.close()
    })
    const full = await refusal(hub)
    assert.deepEqual([full.status, full.body.error.code], [503, 'SSEHUB_ERR_HUB_FULL'])
    assert.ok(Number(full.headers.get('retry-after')) >= 1)
    await stillFlowing(hub, open, 'after the refusal')
    open[0]?.close()
    await waitFor(() => hub.hub.stats().sessions === 2, 2000, 'one stream closed')
    const again = await openSse(hub.at('events?channel=news'))
    t.after(() => again.close())
    assert.equal(again.status, 200, 'a closed stream frees its slot')
  })

  it('answers 429 past the per-address limit, counting X-Forwarded-For only behind a trusted proxy', async (t) => {
    const direct = await startHub({ maxConnectionsPerIp: 2 })
    t.after(() => direct.close())
    const mine = await streams(direct, 2, { 'x-forwarded-for': '203.0.113.1' })
    t.after(() => {
      for (const stream of mine) stream.close()
    })
    // Without --trust-proxy, the header is the client's word: it changes nothing.
    const spoofed = await refusal(direct, { 'x-forwarded-for': '203.0.113.99' })
    assert.deepEqual([spoofed.status, spoofed.body.error.code], [429, 'SSEHUB_ERR_TOO_MANY_STREAMS'])
    assert.ok(Number(spoofed.headers.get('retry-after')) >= 1)
    await stillFlowing(direct, mine, 'still here')

    const proxied = await startHub({ maxConnectionsPerIp: 2, trustProxy: 1 })
    t.after(() => proxied.close())
    const alice = await streams(proxied, 2, { 'x-forwarded-for': '203.0.113.1' })
    const bob = await streams(proxied, 2, { 'x-forwarded-for': '203.0.113.2' })
    t.after(() => {
      for (const stream of [...alice, ...bob]) stream.close()
    })
    assert.equal((await refusal(proxied, { 'x-forwarded-for': '203.0.113.1' })).status, 429)
    // Entries left of the trusted proxy's are the client's own: forging them does not help.
    assert.equal((await refusal(proxied, { 'x-forwarded-for': '198.51.100.7, 203.0.113.1' })).status, 429)
  })

  it('answers 429 past the per-subject limit, whatever the token or address', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, maxConnectionsPerSubject: 2 })
    t.after(() => hub.close())
    const alice = async () => ({
      authorization: `Bearer ${await token({ subscribe: ['news'] }, { sub: 'alice' })}`,
    })
    const open = [...(await streams(hub, 1, await alice())), ...(await streams(hub, 1, await alice()))]
    const bob = await streams(hub, 1, { authorization: `Bearer ${await token({}, { sub: 'bob' })}` })
    const anonymous = await streams(hub, 3)
    t.after(() => {
      for (const stream of [...open, ...bob, ...anonymous]) stream.close()
    })
    const third = await refusal(hub, await alice())
    assert.deepEqual([third.status, third.body.error.code], [429, 'SSEHUB_ERR_TOO_MANY_STREAMS'])
    assert.match(third.body.error.message, /subject/)
    const publisher = { authorization: `Bearer ${await token({ publish: ['news'] })}` }
    await stillFlowing(hub, [...open, ...bob, ...anonymous], 'unaffected', publisher)
    // The refused attempt gave its address slot back: counters track open streams only.
    open[0]?.close()
    await waitFor(() => hub.hub.stats().sessions === 5, 2000, 'closed')
    const again = await openSse(hub.at('events?channel=news'), { headers: await alice() })
    t.after(() => again.close())
    assert.equal(again.status, 200)
  })

  it('releases every slot of refused and finished streams', async (t) => {
    const hub = await startHub({ maxConnections: 2, maxConnectionsPerIp: 2, jwtSecret: SECRET, auth: 'all' })
    t.after(() => hub.close())
    // Refusals after the slot was taken (bad token, forbidden channel, invalid channel) give it back.
    for (let i = 0; i < 5; i++) {
      assert.equal((await refusal(hub, { authorization: 'Bearer nope' })).status, 401)
      assert.equal(
        (await refusal(hub, { authorization: `Bearer ${await token({ subscribe: ['x'] })}` })).status,
        403,
      )
      const jwt = await token({ subscribe: ['*'] })
      assert.equal((await refusal(hub, { authorization: `Bearer ${jwt}` }, 'channel=a*b')).status, 400)
    }
    const jwt = await token({ subscribe: ['news'] })
    for (let round = 0; round < 3; round++) {
      const open = await streams(hub, 2, { authorization: `Bearer ${jwt}` })
      for (const stream of open) stream.close()
      await waitFor(() => hub.hub.stats().sessions === 0, 2000, 'closed')
      await sleep(10)
    }
  })
})

describe('client addresses', () => {
  const req = (remoteAddress: string, forwarded?: string) =>
    ({
      socket: { remoteAddress },
      headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    }) as unknown as IncomingMessage

  it('believes X-Forwarded-For only as far as the trusted hops reach', () => {
    assert.equal(clientAddress(req('10.0.0.1', '1.2.3.4'), 0), '10.0.0.1')
    assert.equal(clientAddress(req('10.0.0.1', '1.2.3.4'), 1), '1.2.3.4')
    assert.equal(clientAddress(req('10.0.0.1', 'forged, 1.2.3.4'), 1), '1.2.3.4')
    assert.equal(clientAddress(req('10.0.0.2', '1.2.3.4, 10.0.0.1'), 2), '1.2.3.4')
    assert.equal(clientAddress(req('10.0.0.1', 'not-an-ip'), 1), '10.0.0.1', 'garbage falls back to the peer')
    assert.equal(clientAddress(req('10.0.0.1', '[2001:db8::1]:443'), 1), '2001:db8::1')
    assert.equal(clientAddress(req('::ffff:192.0.2.5'), 0), '192.0.2.5')
  })

  it('counts an IPv6 client by its /64, and IPv4 by address', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:ffff:1:2:3'))
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'))
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(addressKey('::1'), '0:0:0:0::/64')
    assert.equal(addressKey('::ffff:1.2.3.4'), '0:0:0:0::/64')
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1')
  })
})
