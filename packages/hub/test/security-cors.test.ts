import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openSse } from '@ssehub/testkit'
import { answer, request, startHub } from './helpers.js'
import { SECRET } from './security-helpers.js'

test('lets an allowed page read refusals (401, 429) with their Retry-After and WWW-Authenticate', async (t) => {
  const hub = await startHub({
    corsOrigins: ['https://app.example'],
    jwtSecret: SECRET,
    auth: 'all',
  })
  t.after(() => hub.close())
  const origin = { origin: 'https://app.example' }
  const unauthorized = await answer(await request(hub.at('events?channel=a'), { headers: origin }))
  assert.equal(unauthorized.status, 401)
  assert.equal(unauthorized.headers.get('access-control-allow-origin'), 'https://app.example')
  assert.equal(unauthorized.headers.get('access-control-allow-credentials'), 'true')
  assert.equal(unauthorized.headers.get('vary'), 'Origin')
  assert.match(unauthorized.headers.get('access-control-expose-headers') ?? '', /www-authenticate/)
  assert.match(unauthorized.headers.get('access-control-expose-headers') ?? '', /retry-after/)
  const evil = await answer(
    await request(hub.at('events?channel=a'), { headers: { origin: 'https://evil.example' } }),
  )
  assert.equal(evil.headers.get('access-control-allow-origin'), null, 'a foreign origin reads nothing')
  assert.equal(evil.headers.get('access-control-expose-headers'), null)

  const limited = await startHub({ corsOrigins: ['https://app.example'], maxConnectionsPerIp: 1 })
  t.after(() => limited.close())
  const first = await openSse(limited.at('events?channel=a'))
  t.after(() => first.close())
  const second = await answer(await request(limited.at('events?channel=a'), { headers: origin }))
  assert.equal(second.status, 429)
  assert.equal(second.headers.get('access-control-allow-origin'), 'https://app.example')
  assert.ok(Number(second.headers.get('retry-after')) >= 1)
})

test('answers preflights for last-event-id and authorization only to allowed origins, never reflecting others', async (t) => {
  const hub = await startHub({ corsOrigins: ['https://app.example'] })
  t.after(() => hub.close())
  const ask = (origin: string, path: string, method: string) =>
    request(hub.at(path), {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, last-event-id',
      },
    })
  for (const [path, method] of [
    ['events', 'GET'],
    ['publish', 'POST'],
  ] as const) {
    const allowed = await ask('https://app.example', path, method)
    assert.equal(allowed.status, 204)
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example')
    const headers = (allowed.headers.get('access-control-allow-headers') ?? '').split(', ')
    assert.ok(headers.includes('authorization') && headers.includes('last-event-id'), path)
    assert.equal(allowed.headers.get('vary'), 'Origin')
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.example']) {
      const refused = await ask(origin, path, method)
      assert.equal(refused.headers.get('access-control-allow-origin'), null, origin)
      assert.equal(refused.headers.get('access-control-allow-headers'), null, origin)
      assert.equal(refused.headers.get('access-control-allow-credentials'), null, origin)
    }
  }
})
