import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { withTimeout } from '@ssehub/testkit'
import { answer, request, startHub, type TestHub } from './helpers.js'
import { keys, type TestKeys, token } from './security-helpers.js'

/** A JWKS endpoint on port 0 whose key set the test can rotate, or make fail. */
async function jwksServer(): Promise<{
  url: string
  server: Server
  fetches: () => number
  serve: (set: Record<string, unknown>[]) => void
  fail: (status: number | false) => void
}> {
  let set: Record<string, unknown>[] = []
  let failing: number | false = false
  let fetches = 0
  const server = createServer((_req, res) => {
    fetches++
    if (failing !== false) {
      res.writeHead(failing).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: set }))
  })
  await withTimeout(
    new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    5000,
    'jwks listen',
  )
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    server,
    fetches: () => fetches,
    serve: (next) => {
      set = next
    },
    fail: (status) => {
      failing = status
    },
  }
}

function jwk(pair: TestKeys, kid: string, alg: string): Record<string, unknown> {
  return { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
}

async function status(
  hub: TestHub,
  jwt: string,
): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
  const response = await request(hub.at('events?channel=news'), {
    headers: { authorization: `Bearer ${jwt}` },
  })
  if (response.status === 200) {
    await response.body?.cancel()
    return { status: 200, body: undefined, retryAfter: null }
  }
  const read = await answer(response)
  return { status: read.status, body: read.body, retryAfter: read.headers.get('retry-after') }
}

test('verifies tokens against a JWKS, caching it and refetching when keys rotate', async (t) => {
  const jwks = await jwksServer()
  t.after(() => jwks.server.close())
  const a = keys('rsa')
  const b = keys('ec')
  const c = keys('ed25519')
  jwks.serve([jwk(a, 'key-a', 'RS256')])
  const hub = await startHub({ jwksUrl: jwks.url, auth: 'all', jwksCooldownMs: 0 })
  t.after(() => hub.close())
  const grants = { subscribe: ['news'] }

  const withA = await token(grants, { header: { alg: 'RS256', kid: 'key-a' }, key: a.privateKey })
  for (let i = 0; i < 5; i++) assert.equal((await status(hub, withA)).status, 200)
  assert.equal(jwks.fetches(), 1, 'the key set is fetched once and cached')

  // Rotation: the issuer now signs with B (and soon C); A is retired.
  jwks.serve([jwk(b, 'key-b', 'ES256'), jwk(c, 'key-c', 'EdDSA')])
  const withB = await token(grants, { header: { alg: 'ES256', kid: 'key-b' }, key: b.privateKey })
  assert.equal((await status(hub, withB)).status, 200, 'an unknown kid triggers a refetch')
  assert.equal(jwks.fetches(), 2)
  const withC = await token(grants, { header: { alg: 'EdDSA', kid: 'key-c' }, key: c.privateKey })
  assert.equal((await status(hub, withC)).status, 200)
  assert.equal(jwks.fetches(), 2, 'C came with the same fetch')
  const retired = await status(hub, withA)
  assert.equal(retired.status, 401, 'a retired key no longer verifies')

  // A key of the set under another algorithm than the token claims: no key matches.
  const confused = await token(grants, { header: { alg: 'RS256', kid: 'key-b' }, key: a.privateKey })
  assert.equal((await status(hub, confused)).status, 401)
})

test('never verifies HMAC tokens against a JWKS, even one holding a symmetric key', async (t) => {
  const jwks = await jwksServer()
  t.after(() => jwks.server.close())
  const secret = 'a-shared-secret-of-at-least-32-bytes'
  jwks.serve([{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 'oct', alg: 'HS256' }])
  const hub = await startHub({ jwksUrl: jwks.url, auth: 'all', jwksCooldownMs: 0 })
  t.after(() => hub.close())
  const jwt = await token({ subscribe: ['news'] }, { header: { alg: 'HS256', kid: 'oct' }, key: secret })
  assert.equal((await status(hub, jwt)).status, 401)
})

test('answers 503 with Retry-After while the JWKS cannot be fetched, and serves cached keys meanwhile', async (t) => {
  const jwks = await jwksServer()
  t.after(() => jwks.server.close())
  const a = keys('ec')
  const b = keys('ec')
  jwks.serve([jwk(a, 'key-a', 'ES256')])
  const hub = await startHub({ jwksUrl: jwks.url, auth: 'all', jwksCooldownMs: 0 })
  t.after(() => hub.close())
  const withA = await token(
    { subscribe: ['news'] },
    { header: { alg: 'ES256', kid: 'key-a' }, key: a.privateKey },
  )
  assert.equal((await status(hub, withA)).status, 200)
  jwks.fail(500)
  assert.equal((await status(hub, withA)).status, 200, 'a cached key still verifies')
  const withB = await token(
    { subscribe: ['news'] },
    { header: { alg: 'ES256', kid: 'key-b' }, key: b.privateKey },
  )
  const down = await status(hub, withB)
  assert.equal(down.status, 503)
  assert.equal((down.body as { error: { code: string } }).error.code, 'SSEHUB_ERR_AUTH_UNAVAILABLE')
  assert.ok(Number(down.retryAfter) >= 1)
  jwks.fail(false)
  jwks.serve([jwk(a, 'key-a', 'ES256'), jwk(b, 'key-b', 'ES256')])
  assert.equal((await status(hub, withB)).status, 200, 'back once the endpoint answers')
})
