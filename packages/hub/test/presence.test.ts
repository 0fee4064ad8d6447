import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { openSse, type SseStream, waitFor, withTimeout } from '@ssehub/testkit'
import { type Json, publishJson, request, startHub, type TestHub } from './helpers.js'
import { SECRET, token } from './security-helpers.js'

const ADMIN = 'admin-token-for-the-tests-0123456789'

async function getJson(
  hub: TestHub,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await request(hub.at(path), { headers })
  const text = await withTimeout(response.text(), 5000, 'body')
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
  }
}

/** Opens a stream and waits until the hub counts it. */
async function subscribe(
  hub: TestHub,
  query: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const before = hub.hub.stats().sessions
  const stream = await openSse(hub.at(`events?${query}`), { headers })
  assert.equal(stream.status, 200)
  await waitFor(() => hub.hub.stats().sessions > before, 5000)
  return stream
}

const bearer = (value: string): Record<string, string> => ({ authorization: `Bearer ${value}` })

describe('GET /channels and /channels/:name', () => {
  test('lists channels and patterns apart, with their counts on this node', async (t) => {
    const hub = await startHub()
    t.after(() => hub.close())
    const a = await subscribe(hub, 'channel=room/1&channel=news')
    const b = await subscribe(hub, 'channel=room/*&channel=news')
    t.after(() => {
      a.close()
      b.close()
    })
    const { status, body } = await getJson(hub, 'channels')
    assert.equal(status, 200)
    assert.equal(body.connections, 2)
    assert.deepEqual(body.channels, [
      { channel: 'news', subscribers: 2 },
      { channel: 'room/1', subscribers: 1 },
    ])
    assert.deepEqual(body.patterns, [{ pattern: 'room/*', subscribers: 1 }])
    assert.equal(body.truncated, false)
    const limited = await getJson(hub, 'channels?limit=1')
    assert.deepEqual(limited.body.channels, [{ channel: 'news', subscribers: 2 }])
    assert.equal(limited.body.truncated, true)
    assert.equal((await getJson(hub, 'channels?limit=0')).body.error.code, 'SSEHUB_ERR_FIELD_INVALID')
  })

  test("lists a channel's subscribers, by name and by pattern, with address and selectors", async (t) => {
    const hub = await startHub()
    t.after(() => hub.close())
    const byName = await subscribe(hub, 'channel=room/1')
    const byPattern = await subscribe(hub, 'channel=room/*&channel=other')
    const elsewhere = await subscribe(hub, 'channel=room/2')
    t.after(() => {
      for (const stream of [byName, byPattern, elsewhere]) stream.close()
    })
    const { status, body } = await getJson(hub, `channels/${encodeURIComponent('room/1')}`)
    assert.equal(status, 200)
    assert.equal(body.channel, 'room/1')
    assert.equal(body.subscribers, 2)
    assert.deepEqual(
      body.sessions.map((s: Json) => s.selectors),
      [['room/1'], ['room/*', 'other']],
    )
    for (const session of body.sessions) {
      assert.equal(session.address, '127.0.0.1')
      assert.equal(session.subject, undefined)
      assert.ok(Math.abs(Date.parse(session.connectedAt) - Date.now()) < 10_000)
      assert.equal(typeof session.id, 'number')
    }
    // The path is not decoded twice, and `/` need not be encoded.
    assert.equal((await getJson(hub, 'channels/room/1')).body.subscribers, 2)
    const empty = await getJson(hub, 'channels/nobody')
    assert.deepEqual(empty.body, { channel: 'nobody', subscribers: 0, sessions: [], truncated: false })
    const invalid = await getJson(hub, 'channels/a*b')
    assert.equal(invalid.status, 400)
    assert.equal(invalid.body.error.code, 'SSE_ERR_CHANNEL_INVALID')
    const malformed = await getJson(hub, 'channels/%E0%A4%A')
    assert.equal(malformed.status, 400)
    assert.equal(malformed.body.error.code, 'SSEHUB_ERR_FIELD_INVALID')
  })

  test('drops a subscriber from the lists when its stream closes', async (t) => {
    const hub = await startHub()
    t.after(() => hub.close())
    const stream = await subscribe(hub, 'channel=gone')
    assert.equal((await getJson(hub, 'channels/gone')).body.subscribers, 1)
    stream.close()
    await waitFor(() => hub.hub.stats().sessions === 0, 5000)
    assert.deepEqual((await getJson(hub, 'channels')).body.channels, [])
  })

  test('needs the admin token when one is configured: 401 without or with a wrong one', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    const missing = await getJson(hub, 'channels')
    assert.equal(missing.status, 401)
    assert.equal(missing.body.error.code, 'SSEHUB_ERR_ADMIN_TOKEN_MISSING')
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer realm=/)
    const wrong = await getJson(hub, 'channels/x', bearer(`${ADMIN}x`))
    assert.equal(wrong.status, 401)
    assert.equal(wrong.body.error.code, 'SSEHUB_ERR_ADMIN_TOKEN_INVALID')
    assert.equal((await getJson(hub, 'channels', bearer(ADMIN))).status, 200)
    assert.equal((await getJson(hub, 'channels/x', bearer(ADMIN))).status, 200)
  })

  test('is refused (403) on a hub reachable beyond loopback with neither an admin token nor a key', async (t) => {
    const hub = await startHub({ host: '0.0.0.0' })
    t.after(() => hub.close())
    const { status, body } = await getJson(hub, 'channels')
    assert.equal(status, 403)
    assert.equal(body.error.code, 'SSEHUB_ERR_ADMIN_REQUIRED')
    assert.equal((await getJson(hub, 'channels/x')).status, 403)
  })

  test('with auth on: lists token subjects, for a token granted the presence channel or the admin token', async (t) => {
    const hub = await startHub({ auth: 'all', jwtSecret: SECRET, adminToken: ADMIN })
    t.after(() => hub.close())
    const alice = await subscribe(
      hub,
      'channel=room',
      bearer(await token({ subscribe: ['room'] }, { sub: 'alice' })),
    )
    const bob = await subscribe(
      hub,
      'channel=ro*',
      bearer(await token({ subscribe: ['ro*'] }, { sub: 'bob' })),
    )
    t.after(() => {
      alice.close()
      bob.close()
    })
    const watcher = await token({ subscribe: ['ssehub.presence/room'] }, { sub: 'watcher' })
    const listed = await getJson(hub, 'channels/room', bearer(watcher))
    assert.equal(listed.status, 200)
    assert.deepEqual(
      listed.body.sessions.map((s: Json) => [s.subject, s.selectors]),
      [
        ['alice', ['room']],
        ['bob', ['ro*']],
      ],
    )
    // The admin token works too, with a key configured.
    assert.equal((await getJson(hub, 'channels/room', bearer(ADMIN))).body.subscribers, 2)

    const none = await getJson(hub, 'channels/room')
    assert.equal(none.status, 401)
    assert.equal(none.body.error.code, 'SSEHUB_ERR_TOKEN_MISSING')
    const other = await getJson(hub, 'channels/other', bearer(watcher))
    assert.equal(other.status, 403)
    assert.equal(other.body.error.code, 'SSEHUB_ERR_CHANNEL_FORBIDDEN')
    // The list of every channel needs `ssehub.presence/*`.
    assert.equal((await getJson(hub, 'channels', bearer(watcher))).status, 403)
    const all = await token({ subscribe: ['ssehub.presence/*'] })
    const channels = await getJson(hub, 'channels', bearer(all))
    assert.equal(channels.status, 200)
    assert.deepEqual(channels.body.channels, [{ channel: 'room', subscribers: 1 }])
    assert.deepEqual(channels.body.patterns, [{ pattern: 'ro*', subscribers: 1 }])
    const forged = await getJson(hub, 'channels/room', bearer(`${watcher.slice(0, -2)}xx`))
    assert.equal(forged.status, 401)
    assert.equal(forged.body.error.code, 'SSEHUB_ERR_TOKEN_INVALID')
  })
})

describe('presence events (--presence-events)', () => {
  test('publishes join and leave on ssehub.presence/<channel>, with the subject and the count', async (t) => {
    const hub = await startHub({ presenceEvents: true, presenceIntervalMs: 50 })
    t.after(() => hub.close())
    const watcher = await subscribe(hub, `channel=${encodeURIComponent('ssehub.presence/room')}`)
    t.after(() => watcher.close())
    const first = await subscribe(hub, 'channel=room')
    const [join] = await watcher.waitForEvents(1)
    assert.equal(join?.type, 'join')
    assert.deepEqual(JSON.parse(join?.data ?? ''), { channel: 'room', subscribers: 1 })
    // A pattern is not in the channel: no event.
    const pattern = await subscribe(hub, 'channel=ro*')
    first.close()
    const events = await watcher.waitForEvents(2)
    assert.equal(events[1]?.type, 'leave')
    assert.deepEqual(JSON.parse(events[1]?.data ?? ''), { channel: 'room', subscribers: 0 })
    pattern.close()
    await waitFor(() => hub.hub.stats().sessions === 1, 5000)
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(watcher.events.length, 2, JSON.stringify(watcher.events))
  })

  test('coalesces a reconnect storm into at most one event per channel per interval', async (t) => {
    const hub = await startHub({ presenceEvents: true, presenceIntervalMs: 400 })
    t.after(() => hub.close())
    const watcher = await subscribe(hub, `channel=${encodeURIComponent('ssehub.presence/storm')}`)
    t.after(() => watcher.close())
    const streams: SseStream[] = []
    for (let i = 0; i < 20; i++) streams.push(await subscribe(hub, 'channel=storm'))
    for (const stream of streams.slice(0, 5)) stream.close()
    await waitFor(() => hub.hub.stats().sessions === 16, 5000)
    // The first change goes out at once; the other 24 are held until the interval ends.
    await watcher.waitForEvents(2, 5000)
    await waitFor(() => JSON.parse(watcher.events.at(-1)?.data ?? '{}').subscribers === 15, 5000)
    const final = JSON.parse(watcher.events.at(-1)?.data ?? '')
    assert.ok(watcher.events.length <= 4, `${watcher.events.length} events for 25 changes`)
    assert.equal(final.subscribers, 15)
    assert.equal(final.subject, undefined)
    const coalesced = watcher.events.slice(1).map((event) => JSON.parse(event.data))
    assert.equal(
      coalesced.reduce((sum: number, data: Json) => sum + data.joined, 0),
      19,
      JSON.stringify(coalesced),
    )
    assert.equal(
      coalesced.reduce((sum: number, data: Json) => sum + data.left, 0),
      5,
    )
    for (const stream of streams.slice(5)) stream.close()
  })

  test('are authorised like any channel: a token needs a grant covering the presence channel', async (t) => {
    const hub = await startHub({
      auth: 'publish',
      jwtSecret: SECRET,
      presenceEvents: true,
      presenceIntervalMs: 50,
    })
    t.after(() => hub.close())
    const presence = encodeURIComponent('ssehub.presence/room')
    // Anonymous subscribers may read public channels, but not presence (it names subjects).
    const anonymous = await request(hub.at(`events?channel=${presence}`))
    assert.equal(anonymous.status, 403)
    assert.equal(((await anonymous.json()) as Json).error.code, 'SSEHUB_ERR_CHANNEL_FORBIDDEN')
    const granted = await subscribe(
      hub,
      `channel=${presence}`,
      bearer(await token({ subscribe: ['ssehub.presence/*'] }, { sub: 'watcher' })),
    )
    // A wildcard subscriber without the grant is let in, but presence events are filtered out.
    const everything = await subscribe(hub, 'channel=*')
    t.after(() => {
      granted.close()
      everything.close()
    })
    const alice = await subscribe(hub, 'channel=room', bearer(await token({}, { sub: 'alice' })))
    const [join] = await granted.waitForEvents(1)
    assert.equal(join?.type, 'join')
    assert.deepEqual(JSON.parse(join?.data ?? ''), { channel: 'room', subject: 'alice', subscribers: 1 })
    await publishJson(hub, { channel: 'room', data: 'after' }, bearer(await token({ publish: ['room'] })))
    const [seen] = await everything.waitForEvents(1)
    assert.equal(seen?.data, 'after')
    assert.equal(everything.events.length, 1)
    alice.close()
    const events = await granted.waitForEvents(2)
    assert.equal(events[1]?.type, 'leave')
    assert.equal(JSON.parse(events[1]?.data ?? '').subject, 'alice')
  })
})
