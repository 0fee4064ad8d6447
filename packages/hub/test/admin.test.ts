import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type BrokerEvent, MemoryBroker, type PublishMessage } from '@ssehub/core'
import { openSse, type SseStream, waitFor, withTimeout } from '@ssehub/testkit'
import { createHubServer, resolveServeConfig } from 'ssehub'
import { answer, type Json, publishJson, request, startHub } from './helpers.js'

const ADMIN = 'admin-token-for-the-tests-0123456789'
const bearer = (value: string): Record<string, string> => ({ authorization: `Bearer ${value}` })

function adminPublish(url: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

describe('the admin page', () => {
  test('answers 404 at /admin and its routes when no admin token is configured', async (t) => {
    const hub = await startHub()
    t.after(() => hub.close())
    for (const path of ['admin', 'admin/stream', 'admin/events']) {
      const { status, body } = await answer(await request(hub.at(path), { headers: bearer(ADMIN) }))
      assert.equal(status, 404, path)
      assert.equal(body.error.code, 'SSEHUB_ERR_NOT_FOUND')
    }
  })

  test('serves the page with a strict content security policy and no data in it', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    const response = await request(hub.at('admin'))
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/)
    const csp = response.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/)
    assert.match(csp, /connect-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    const html = await withTimeout(response.text(), 5000, 'page')
    assert.ok(!html.includes(ADMIN))
    assert.match(html, /sessionStorage/)
  })

  test('refuses its stream without the token (401) and with a wrong one (401), with a Bearer challenge', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    const missing = await answer(await request(hub.at('admin/stream')))
    assert.equal(missing.status, 401)
    assert.equal(missing.body.error.code, 'SSEHUB_ERR_ADMIN_TOKEN_MISSING')
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /)
    // A token of another length and one that differs only at the end are refused alike.
    for (const wrong of ['short', `${ADMIN.slice(0, -1)}X`]) {
      const refused = await answer(await request(hub.at('admin/stream'), { headers: bearer(wrong) }))
      assert.equal(refused.status, 401)
      assert.equal(refused.body.error.code, 'SSEHUB_ERR_ADMIN_TOKEN_INVALID')
    }
    const tail = await answer(await request(hub.at('admin/events?channel=x'), { headers: bearer('nope') }))
    assert.equal(tail.status, 401)
    const publish = await answer(await adminPublish(hub.at('admin/publish'), { channel: 'x', data: 'y' }, {}))
    assert.equal(publish.status, 401)
    assert.equal(publish.body.error.code, 'SSEHUB_ERR_ADMIN_TOKEN_MISSING')
  })

  test('streams statistics each second: connections, channels, rates and recent errors', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    // An error to see: a refused request.
    assert.equal((await request(hub.at('nowhere?access_token=secret'))).status, 404)
    const admin = await openSse(hub.at('admin/stream'), { headers: bearer(ADMIN) })
    t.after(() => admin.close())
    assert.equal(admin.status, 200)
    const [hello] = await admin.waitForEvents(1)
    assert.equal(hello?.type, 'hello')
    const first = JSON.parse(hello?.data ?? '') as Json
    const refusal = first.errors.find((entry: Json) => entry.status === 404)
    assert.deepEqual(
      { kind: refusal.kind, code: refusal.code, route: refusal.route },
      { kind: 'refusal', code: 'SSEHUB_ERR_NOT_FOUND', route: 'GET /nowhere' },
    )
    assert.ok(!JSON.stringify(first).includes('secret'))

    const client = await openSse(hub.at('events?channel=news&channel=room/*'))
    t.after(() => client.close())
    for (let i = 0; i < 5; i++) await publishJson(hub, { channel: 'news', data: `e${i}` })
    await client.waitForEvents(5)
    const stats = await waitForStats(
      admin,
      (data) => data.totals.published === 5 && data.sample.connections === 1,
    )
    assert.equal(stats.totals.delivered, 5)
    assert.deepEqual(stats.selectors.map((entry: Json) => entry.selector).sort(), ['news', 'room/*'])
    // The rate of the second that saw the publishes, somewhere in the samples so far.
    const rates = admin.events
      .filter((event) => event.type === 'stats')
      .map((event) => JSON.parse(event.data).sample.publishedPerS)
    assert.ok(
      rates.some((rate: number) => rate > 0),
      JSON.stringify(admin.events),
    )
  })

  test('publishes from the admin page and tails any channel, including patterns', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    const tail = await openSse(hub.at('admin/events?channel=orders/*'), { headers: bearer(ADMIN) })
    t.after(() => tail.close())
    assert.equal(tail.status, 200)
    await waitFor(() => hub.hub.stats().sessions === 1, 5000)
    const published = await answer(
      await adminPublish(
        hub.at('admin/publish'),
        { channel: 'orders/7', event: 'created', data: '{"n":7}' },
        bearer(ADMIN),
      ),
    )
    assert.equal(published.status, 200)
    assert.equal(published.body.channel, 'orders/7')
    assert.equal(published.body.subscribers, 1)
    const [event] = await tail.waitForEvents(1)
    assert.deepEqual([event?.type, event?.data, event?.id], ['created', '{"n":7}', published.body.id])
    // The tail is listed as the admin's own stream.
    const listing = await answer(await request(hub.at('channels/orders/7'), { headers: bearer(ADMIN) }))
    assert.equal(listing.body.sessions[0].admin, true)
    // A reserved channel cannot be published to, from the admin page either.
    const reserved = await answer(
      await adminPublish(hub.at('admin/publish'), { channel: 'ssehub.x', data: 'y' }, bearer(ADMIN)),
    )
    assert.equal(reserved.status, 400)
    assert.equal(reserved.body.error.code, 'SSE_ERR_CHANNEL_RESERVED')
  })

  test('refuses admin streams beyond its bound with 429', async (t) => {
    const hub = await startHub({ adminToken: ADMIN })
    t.after(() => hub.close())
    const streams: SseStream[] = []
    t.after(() => {
      for (const stream of streams) stream.close()
    })
    for (let i = 0; i < 16; i++) {
      const stream = await openSse(hub.at(i % 2 === 0 ? 'admin/stream' : 'admin/events?channel=c'), {
        headers: bearer(ADMIN),
      })
      assert.equal(stream.status, 200)
      streams.push(stream)
    }
    const refused = await answer(await request(hub.at('admin/stream'), { headers: bearer(ADMIN) }))
    assert.equal(refused.status, 429)
    assert.equal(refused.body.error.code, 'SSEHUB_ERR_TOO_MANY_STREAMS')
    // The sixteenth is a tail, a hub session: once it is gone, there is room for one more.
    streams.pop()?.close()
    await waitFor(() => hub.hub.stats().sessions === 7, 5000)
    const again = await openSse(hub.at('admin/stream'), { headers: bearer(ADMIN) })
    streams.push(again)
    assert.equal(again.status, 200)
  })

  test('records unexpected errors, and the 500 they were answered with', async (t) => {
    class FailingBroker extends MemoryBroker {
      override publish(channel: string, message: PublishMessage): Promise<BrokerEvent> {
        if (channel === 'boom') return Promise.reject(new TypeError('the disk is on fire'))
        return super.publish(channel, message)
      }
    }
    const hub = await startHub({ adminToken: ADMIN, broker: new FailingBroker(), onError: () => {} })
    t.after(() => hub.close())
    assert.equal((await publishJson(hub, { channel: 'boom', data: 'x' })).status, 500)
    const admin = await openSse(hub.at('admin/stream'), { headers: bearer(ADMIN) })
    t.after(() => admin.close())
    const [hello] = await admin.waitForEvents(1)
    const errors = JSON.parse(hello?.data ?? '').errors as Json[]
    assert.deepEqual(
      errors.map((entry) => [entry.kind, entry.code, entry.status, entry.route, entry.message]),
      [
        ['error', 'TypeError', undefined, undefined, 'the disk is on fire'],
        ['refusal', 'SSE_ERR_SERVER_INTERNAL', 500, 'POST /publish', 'publishing failed'],
      ],
    )
  })

  test('validates the admin token option without printing it', () => {
    assert.throws(
      () => createHubServer({ adminToken: 'too-short-123' }),
      (error: Json) => error.code === 'SSEHUB_ERR_OPTION_INVALID' && !error.message.includes('too-short'),
    )
    assert.throws(
      () => resolveServeConfig(['--admin-token', 'has spaces in it, sixteen+']),
      (error: Json) => error.field === '--admin-token' && !error.message.includes('spaces'),
    )
    const config = resolveServeConfig(['--presence-events'], { SSEHUB_ADMIN_TOKEN: ADMIN })
    assert.equal(config.adminToken, ADMIN)
    assert.equal(config.presenceEvents, true)
    assert.equal(resolveServeConfig([]).presenceEvents, false)
  })
})

async function waitForStats(stream: SseStream, predicate: (data: Json) => boolean): Promise<Json> {
  let found: Json
  await waitFor(() => {
    const last = stream.events.filter((event) => event.type === 'stats').at(-1)
    if (last === undefined) return false
    const data = JSON.parse(last.data)
    if (!predicate(data)) return false
    found = data
    return true
  }, 8000)
  return found
}
