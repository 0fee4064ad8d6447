import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { openSse, sleep, waitFor } from '@ssehub/testkit'
import { answer, publishForm, publishJson, request, startHub, type TestHub } from './helpers.js'
import { SECRET, token } from './security-helpers.js'

const bearer = (jwt: string): Record<string, string> => ({ authorization: `Bearer ${jwt}` })

async function subscribe(hub: TestHub, query: string, headers: Record<string, string> = {}) {
  const response = await request(hub.at(`events?${query}`), {
    headers: { accept: 'text/event-stream', ...headers },
  })
  if (response.status === 200) {
    await response.body?.cancel()
    return { status: 200, body: undefined, headers: response.headers }
  }
  return answer(response)
}

describe('authentication modes', () => {
  it('with --auth off and no key, anyone publishes and subscribes, and tokens are not looked at', async (t) => {
    const hub = await startHub()
    t.after(() => hub.close())
    const garbage = bearer('not.a.token')
    assert.equal((await subscribe(hub, 'channel=news', garbage)).status, 200)
    assert.equal((await publishJson(hub, { channel: 'news', data: 'x' }, garbage)).status, 200)
    assert.equal((await publishJson(hub, { channel: 'news', data: 'x' })).status, 200)
    const refused = await publishJson(hub, { channel: 'news', data: 'x', private: true })
    assert.deepEqual(
      [refused.status, refused.body.error.code, refused.body.error.field],
      [400, 'SSEHUB_ERR_PRIVATE_UNAVAILABLE', 'private'],
    )
  })

  it('with a key, auth auto is publish: publishing needs a token whose grants cover the channel', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET })
    t.after(() => hub.close())
    const anonymous = await publishJson(hub, { channel: 'news/1', data: 'x' })
    assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'SSEHUB_ERR_TOKEN_MISSING'])
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="ssehub"')
    const jwt = await token({ publish: ['news/*'] })
    const stream = await openSse(hub.at('events?channel=news/1'))
    t.after(() => stream.close())
    assert.equal(stream.status, 200, 'subscribing to a public channel stays anonymous')
    const ok = await publishJson(hub, { channel: 'news/1', data: 'granted' }, bearer(jwt))
    assert.equal(ok.status, 200)
    const forbidden = await publishJson(hub, { channel: 'sports', data: 'x' }, bearer(jwt))
    assert.deepEqual(
      [forbidden.status, forbidden.body.error.code, forbidden.body.error.field],
      [403, 'SSEHUB_ERR_CHANNEL_FORBIDDEN', 'channel'],
    )
    assert.match(forbidden.headers.get('www-authenticate') ?? '', /insufficient_scope/)
    const batch = await publishJson(
      hub,
      [
        { channel: 'news/2', data: 'a' },
        { channel: 'sports', data: 'b' },
      ],
      bearer(jwt),
    )
    assert.deepEqual([batch.status, batch.body.error.index], [403, 1])
    const subscriberOnly = await token({ subscribe: ['*'] })
    assert.equal(
      (await publishJson(hub, { channel: 'news/1', data: 'x' }, bearer(subscriberOnly))).status,
      403,
    )
    await stream.waitForEvents(1)
    await sleep(50)
    assert.deepEqual(
      stream.events.map((event) => event.data),
      ['granted'],
      'nothing refused was published',
    )
  })

  it('refuses an invalid or expired token instead of treating the request as anonymous', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET })
    t.after(() => hub.close())
    const expired = await token({ subscribe: ['*'] }, { ttlS: -60 })
    const wrongKey = await token({}, { key: 'a-different-secret-of-32-bytes-or-more' })
    for (const jwt of [expired, wrongKey, 'garbage']) {
      const stream = await subscribe(hub, 'channel=news', bearer(jwt))
      assert.deepEqual([stream.status, stream.body.error.code], [401, 'SSEHUB_ERR_TOKEN_INVALID'])
      assert.match(stream.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
      assert.ok(!JSON.stringify(stream.body).includes(jwt), 'the answer never quotes the token')
    }
    const expiredAnswer = await subscribe(hub, 'channel=news', bearer(expired))
    assert.match(expiredAnswer.body.error.message, /expired/)
    const malformed = await subscribe(hub, 'channel=news', { authorization: 'Bearer' })
    assert.equal(malformed.status, 401)
    // Other schemes (a proxy's Basic credentials) are not tokens.
    assert.equal((await subscribe(hub, 'channel=news', { authorization: 'Basic dXNlcjpwdw==' })).status, 200)
  })

  it('with --auth all, subscribing needs a token whose subscribe grants cover every channel and pattern', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, auth: 'all' })
    t.after(() => hub.close())
    const anonymous = await subscribe(hub, 'channel=news/1')
    assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'SSEHUB_ERR_TOKEN_MISSING'])
    const head = await request(hub.at('events?channel=news/1'), { method: 'HEAD' })
    assert.equal(head.status, 401)
    const jwt = bearer(await token({ subscribe: ['news/*', 'alerts'] }))
    for (const query of ['channel=news/1', 'channel=news/eu/*', 'channel=alerts&channel=news/*']) {
      assert.equal((await subscribe(hub, query, jwt)).status, 200, query)
    }
    for (const query of [
      'channel=sports',
      'channel=*',
      'channel=news/1&channel=sports',
      'channel=alerts*',
      'channel=news*',
    ]) {
      const refused = await subscribe(hub, query, jwt)
      assert.deepEqual(
        [refused.status, refused.body.error.code],
        [403, 'SSEHUB_ERR_CHANNEL_FORBIDDEN'],
        query,
      )
    }
  })
})

describe('where tokens come from', () => {
  it('reads Authorization: Bearer, else the token cookie (name configurable)', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, auth: 'all', authCookie: 'hub_jwt' })
    t.after(() => hub.close())
    const jwt = await token({ subscribe: ['news'] })
    assert.equal((await subscribe(hub, 'channel=news', bearer(jwt))).status, 200)
    assert.equal((await subscribe(hub, 'channel=news', { cookie: `theme=dark; hub_jwt=${jwt}` })).status, 200)
    assert.equal((await subscribe(hub, 'channel=news', { cookie: `ssehub_token=${jwt}` })).status, 401)
    // The header wins over the cookie, and an invalid header is not rescued by a valid cookie.
    const both = await subscribe(hub, 'channel=news', { ...bearer('bad'), cookie: `hub_jwt=${jwt}` })
    assert.equal(both.status, 401)
  })

  it('refuses a query-string token unless --auth-query-token enables it', async (t) => {
    const jwt = await token({ subscribe: ['news'] })
    const strict = await startHub({ jwtSecret: SECRET, auth: 'all' })
    t.after(() => strict.close())
    const refused = await subscribe(strict, `channel=news&access_token=${jwt}`)
    assert.deepEqual([refused.status, refused.body.error.code], [400, 'SSEHUB_ERR_TOKEN_IN_QUERY'])
    assert.ok(!JSON.stringify(refused.body).includes(jwt))
    const lenient = await startHub({ jwtSecret: SECRET, auth: 'all', authQueryToken: true })
    t.after(() => lenient.close())
    assert.equal((await subscribe(lenient, `channel=news&access_token=${jwt}`)).status, 200)
    const publisher = await token({ publish: ['news'] })
    const published = await request(lenient.at(`publish?access_token=${publisher}`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'news', data: 'via query' }),
    })
    assert.equal(published.status, 200)
    await published.body?.cancel()
  })
})

describe('cross-site request forgery', () => {
  it('takes a cookie-authenticated publish only with an Origin or Referer listed exactly', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, corsOrigins: ['https://app.example', '*'] })
    t.after(() => hub.close())
    const cookie = { cookie: `ssehub_token=${await token({ publish: ['*'] })}` }
    const status = async (headers: Record<string, string>, form = false) =>
      form
        ? (await publishForm(hub, { channel: 'news', data: 'x' }, { ...cookie, ...headers })).status
        : (await publishJson(hub, { channel: 'news', data: 'x' }, { ...cookie, ...headers })).status
    assert.equal(await status({}), 403, 'no Origin and no Referer')
    assert.equal(await status({}, true), 403, 'a cross-site form without Origin')
    assert.equal(await status({ origin: 'https://evil.example' }), 403, 'allowed only through *')
    assert.equal(await status({ origin: 'null' }), 403, 'an opaque origin')
    assert.equal(await status({ referer: 'https://evil.example/page' }), 403)
    assert.equal(await status({ origin: 'https://app.example' }), 200)
    assert.equal(await status({ referer: 'https://app.example/some/page?x=1' }), 200)
    assert.equal(await status({ origin: `http://${hub.url.host}` }), 200, 'the hub page itself')
    const forged = await publishJson(
      hub,
      { channel: 'news', data: 'x' },
      { ...cookie, origin: 'https://evil.example' },
    )
    assert.equal(forged.body.error.code, 'SSEHUB_ERR_ORIGIN_FORBIDDEN')
    // A bearer token is not sent by a browser on its own: no Origin needed.
    const jwt = await token({ publish: ['*'] })
    assert.equal((await publishJson(hub, { channel: 'news', data: 'x' }, bearer(jwt))).status, 200)
  })
})

describe('private channels', () => {
  it('delivers a private-prefix channel only to subscribers whose grants cover it', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, privatePrefix: 'private/' })
    t.after(() => hub.close())
    const publisher = bearer(await token({ publish: ['*'] }))
    const refused = await subscribe(hub, 'channel=private/alice')
    assert.deepEqual([refused.status, refused.body.error.code], [403, 'SSEHUB_ERR_CHANNEL_FORBIDDEN'])
    const wider = await subscribe(
      hub,
      'channel=private/*',
      bearer(await token({ subscribe: ['private/alice'] })),
    )
    assert.equal(wider.status, 403, 'a grant for one private channel does not cover the pattern')
    const alice = await openSse(hub.at('events?channel=private/alice'), {
      headers: bearer(await token({ subscribe: ['private/alice'] })),
    })
    const everything = await openSse(hub.at('events?channel=*'))
    t.after(() => {
      alice.close()
      everything.close()
    })
    await waitFor(() => hub.hub.subscriberCount('private/alice') === 2, 2000, 'subscribed')
    const secret = await publishJson(
      hub,
      { channel: 'private/alice', data: 'for alice', id: 'alice-1' },
      publisher,
    )
    await publishJson(hub, { channel: 'public', data: 'for all' }, publisher)
    await alice.waitForEvents(1)
    await everything.waitForEvents(1)
    await sleep(50)
    assert.deepEqual(
      alice.events.map((event) => event.data),
      ['for alice'],
    )
    assert.deepEqual(
      everything.events.map((event) => event.data),
      ['for all'],
    )
    assert.notEqual(everything.lastEventId, secret.body.id)
  })

  it('delivers private events live and on replay only to granted subscribers, never revealing their ids', async (t) => {
    const hub = await startHub({ jwtSecret: SECRET, heartbeatMs: false })
    t.after(() => hub.close())
    const publisher = bearer(await token({ publish: ['orders'] }))
    const reader = bearer(await token({ subscribe: ['orders'] }))
    const start = await publishJson(hub, { channel: 'orders', data: 'start' }, publisher)
    const anonymous = await openSse(hub.at('events?channel=orders'))
    const granted = await openSse(hub.at('events?channel=orders'), { headers: reader })
    t.after(() => {
      anonymous.close()
      granted.close()
    })
    await waitFor(() => hub.hub.subscriberCount('orders') === 2, 2000, 'subscribed')
    const hidden = [
      (await publishJson(hub, { channel: 'orders', data: 'secret 1', private: true }, publisher)).body.id,
      (
        await publishJson(
          hub,
          { channel: 'orders', data: 'secret 2', private: true, id: 'order-42' },
          publisher,
        )
      ).body.id,
    ]
    await publishJson(hub, { channel: 'orders', data: 'public' }, publisher)
    await granted.waitForEvents(3)
    await anonymous.waitForEvents(1)
    await sleep(50)
    assert.deepEqual(
      granted.events.map((event) => event.data),
      ['secret 1', 'secret 2', 'public'],
    )
    assert.deepEqual(
      anonymous.events.map((event) => event.data),
      ['public'],
    )

    // Replay: resuming from before the private events re-checks each one.
    const replayAnonymous = await openSse(hub.at('events?channel=orders'), {
      headers: { 'last-event-id': start.body.id },
    })
    const replayGranted = await openSse(hub.at('events?channel=orders'), {
      headers: { ...reader, 'last-event-id': start.body.id },
    })
    t.after(() => {
      replayAnonymous.close()
      replayGranted.close()
    })
    await replayGranted.waitForEvents(3)
    await replayAnonymous.waitForEvents(1)
    assert.deepEqual(
      replayAnonymous.events.map((event) => event.data),
      ['public'],
    )
    assert.deepEqual(
      replayGranted.events.map((event) => event.data),
      ['secret 1', 'secret 2', 'public'],
    )
    for (const stream of [anonymous, replayAnonymous]) {
      for (const id of hidden) {
        assert.ok(!stream.events.some((event) => event.id === id || event.lastEventId === id))
        assert.notEqual(stream.lastEventId, id)
      }
    }
    // A late anonymous subscriber whose cursor lands on a private event gets a position, not its id.
    await publishJson(hub, { channel: 'orders', data: 'last secret', private: true }, publisher)
    const late = await openSse(hub.at('events?channel=orders'))
    t.after(() => late.close())
    await waitFor(() => late.lastEventId !== '', 2000, 'cursor')
    assert.ok(!hidden.includes(late.lastEventId))
    const granted2 = await openSse(hub.at('events?channel=orders'), { headers: reader })
    t.after(() => granted2.close())
    await waitFor(() => granted2.lastEventId !== '', 2000, 'cursor')
    assert.notEqual(
      late.lastEventId,
      granted2.lastEventId,
      'the anonymous cursor is not the private event id',
    )
  })
})

describe('token expiry', () => {
  it('ends a stream when its token expires; the client resumes from Last-Event-ID with a fresh token', async (t) => {
    const hub = await startHub({
      jwtSecret: SECRET,
      auth: 'all',
      jwtClockToleranceS: 0,
      expirySweepMs: 50,
      heartbeatMs: false,
    })
    t.after(() => hub.close())
    const publisher = bearer(await token({ publish: ['feed'] }))
    const shortLived = await token({ subscribe: ['feed'] }, { ttlS: 2 })
    const expiresAt = Math.floor(Date.now() / 1000 + 2) * 1000
    const first = await openSse(hub.at('events?channel=feed'), { headers: bearer(shortLived) })
    t.after(() => first.close())
    await waitFor(() => hub.hub.subscriberCount('feed') === 1, 2000, 'subscribed')
    await publishJson(hub, { channel: 'feed', data: '1' }, publisher)
    await publishJson(hub, { channel: 'feed', data: '2' }, publisher)
    await first.waitForEvents(2)
    await first.waitForEnd(6000)
    assert.ok(Date.now() >= expiresAt - 1000, 'the stream did not end long before its token expired')
    // The expired token is refused; published meanwhile, event 3 waits in history.
    assert.equal((await subscribe(hub, 'channel=feed', bearer(shortLived))).status, 401)
    await publishJson(hub, { channel: 'feed', data: '3' }, publisher)
    const fresh = await token({ subscribe: ['feed'] })
    const second = await openSse(hub.at('events?channel=feed'), {
      headers: { ...bearer(fresh), 'last-event-id': first.lastEventId },
    })
    t.after(() => second.close())
    await publishJson(hub, { channel: 'feed', data: '4' }, publisher)
    await second.waitForEvents(2)
    assert.deepEqual(
      [...first.events, ...second.events].map((event) => [event.type, event.data]),
      [
        ['message', '1'],
        ['message', '2'],
        ['message', '3'],
        ['message', '4'],
      ],
    )
  })
})
