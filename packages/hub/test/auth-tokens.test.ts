import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { withTimeout } from '@ssehub/testkit'
import { createHubServer, HubError, isHubError, resolveServeConfig } from 'ssehub'
import { createTokenVerifier, type TokenKeys } from '../src/auth/token-verifier.js'
import { b64, keys, now, SECRET, sign, token } from './security-helpers.js'

const rsa = keys('rsa')
const ec = keys('ec')
const ed = keys('ed25519')

async function refused(keysConfig: TokenKeys, jwt: string, pattern: RegExp): Promise<void> {
  const verify = createTokenVerifier(keysConfig)
  await assert.rejects(withTimeout(verify(jwt), 5000, 'verify'), (error: unknown) => {
    assert.ok(isHubError(error, 'SSEHUB_ERR_TOKEN_INVALID'), String(error))
    assert.match(error.message, pattern)
    assert.ok(!error.message.includes(jwt), 'the message never quotes the token')
    return true
  })
}

describe('token verification', () => {
  it('verifies HS256, HS384 and HS512 with the secret pinned to its configured algorithm', async () => {
    for (const [alg, secret] of [
      ['HS256', SECRET],
      ['HS384', SECRET.repeat(2)],
      ['HS512', SECRET.repeat(2)],
    ] as const) {
      const verify = createTokenVerifier({ secret, secretAlgorithm: alg })
      const jwt = await token({ subscribe: ['a'] }, { header: { alg }, key: secret, sub: 'u1' })
      const verified = await withTimeout(verify(jwt), 5000, alg)
      assert.equal(verified.subject, 'u1')
      assert.ok(verified.subscribe.allows('a'))
      // The same secret under another HMAC algorithm is refused: the header does not choose.
      const other = alg === 'HS256' ? 'HS512' : 'HS256'
      await refused(
        { secret, secretAlgorithm: alg },
        await token({}, { header: { alg: other }, key: secret }),
        /algorithm/,
      )
    }
  })

  it('verifies RS256, PS256, ES256 and EdDSA with a PEM key, the algorithm pinned by the key type', async () => {
    const cases = [
      { pair: rsa, alg: 'RS256', wanted: undefined },
      { pair: rsa, alg: 'PS256', wanted: 'PS256' },
      { pair: ec, alg: 'ES256', wanted: undefined },
      { pair: ed, alg: 'EdDSA', wanted: undefined },
    ] as const
    for (const { pair, alg, wanted } of cases) {
      const config: TokenKeys = { publicKey: pair.publicPem, publicKeyAlgorithm: wanted }
      const jwt = await token({ publish: ['x/*'] }, { header: { alg }, key: pair.privateKey })
      const verified = await withTimeout(createTokenVerifier(config)(jwt), 5000, alg)
      assert.ok(verified.publish.allows('x/1'), alg)
    }
    // An RSA key configured for RS256 refuses a PS256 token signed by that very key.
    await refused(
      { publicKey: rsa.publicPem },
      await token({}, { header: { alg: 'PS256' }, key: rsa.privateKey }),
      /algorithm/,
    )
  })

  it('refuses alg none, with or without a signature part', async () => {
    const payload = b64({ exp: now() + 600, ssehub: { publish: ['*'] } })
    for (const jwt of [
      `${b64({ alg: 'none' })}.${payload}.`,
      `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.c2ln`,
    ]) {
      await refused({ secret: SECRET }, jwt, /alg "none"|unsigned/)
      await refused({ publicKey: rsa.publicPem }, jwt, /alg "none"|unsigned/)
    }
  })

  it('refuses HS256 tokens signed with the public key PEM as the secret (HS/RS confusion)', async () => {
    const forged = await token({ publish: ['*'] }, { header: { alg: 'HS256' }, key: rsa.publicPem })
    await refused({ publicKey: rsa.publicPem }, forged, /algorithm/)
    // With a secret configured as well, HS256 tokens go to the secret, never to the public key.
    await refused({ publicKey: rsa.publicPem, secret: SECRET }, forged, /signature/)
    // Hand-rolled too, exactly as jsonwebtoken CVE-2022-23540 exploits it.
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: now() + 600 })}`
    const mac = createHmac('sha256', rsa.publicPem).update(head).digest('base64url')
    await refused({ publicKey: rsa.publicPem }, `${head}.${mac}`, /algorithm/)
  })

  it('refuses tokens that carry or point to their own key (jwk, jku, x5u, x5c)', async () => {
    const attacker = keys('rsa')
    const jwk = attacker.publicKey.export({ format: 'jwk' })
    const headers = [
      { alg: 'RS256', jwk },
      { alg: 'RS256', jku: 'https://attacker.example/jwks.json' },
      { alg: 'RS256', x5u: 'https://attacker.example/cert.pem' },
      { alg: 'RS256', x5c: ['MIIB'] },
    ]
    for (const header of headers) {
      const jwt = await token({ publish: ['*'] }, { header, key: attacker.privateKey })
      await refused({ publicKey: rsa.publicPem }, jwt, /carries a "(jwk|jku|x5u|x5c)" header/)
      // Even signed by the right key, a token naming a key location is refused.
      const signed = await token({}, { header, key: rsa.privateKey })
      await refused({ publicKey: rsa.publicPem }, signed, /header/)
    }
  })

  it('requires exp, and checks exp and nbf with a small leeway', async () => {
    const config = { secret: SECRET, clockToleranceS: 5 }
    await refused(config, await sign({ ssehub: {} }), /"exp"/)
    await refused(config, await sign({ exp: now() - 60 }), /expired/)
    await refused(config, await sign({ exp: now() + 600, nbf: now() + 60 }), /not valid yet/)
    const verify = createTokenVerifier(config)
    const leeway = await verify(await sign({ exp: now() - 2 }))
    assert.ok(leeway.expiresAt > Date.now(), 'within the leeway, and the stream may live until exp + leeway')
    await verify(await sign({ exp: now() + 600, nbf: now() + 2 }))
  })

  it('checks aud and iss only when configured', async () => {
    const jwt = await sign({ exp: now() + 600, aud: 'hub-a', iss: 'https://issuer.example' })
    await createTokenVerifier({ secret: SECRET })(jwt)
    await createTokenVerifier({ secret: SECRET, audience: 'hub-a', issuer: 'https://issuer.example' })(jwt)
    await refused({ secret: SECRET, audience: 'hub-b' }, jwt, /"aud"/)
    await refused({ secret: SECRET, issuer: 'https://other.example' }, jwt, /"iss"/)
    await refused({ secret: SECRET, audience: 'hub-a' }, await sign({ exp: now() + 600 }), /"aud"/)
  })

  it('refuses a bad signature, garbage, an oversized token and a malformed ssehub claim', async () => {
    const good = await token({ subscribe: ['a'] })
    const [h, p] = good.split('.')
    await refused({ secret: SECRET }, `${h}.${p}.${'A'.repeat(43)}`, /signature/)
    await refused(
      { secret: SECRET },
      await token({}, { key: 'another-secret-of-at-least-32-bytes' }),
      /signature/,
    )
    await refused({ secret: SECRET }, 'not-a-jwt', /not a JWT/)
    await refused({ secret: SECRET }, `${h}.${'A'.repeat(9000)}.x`, /longer/)
    for (const ssehub of [
      ['a'],
      { subscribe: 'a' },
      { subscribe: [1] },
      { subscribe: ['a*b'] },
      { publish: ['x\ny'] },
      { read: ['a'] },
    ]) {
      await refused({ secret: SECRET }, await sign({ exp: now() + 600, ssehub }), /ssehub claim/)
    }
    const none = await createTokenVerifier({ secret: SECRET })(await sign({ exp: now() + 600 }))
    assert.equal(none.subscribe.allows('a'), false, 'a token without the claim grants nothing')
  })
})

describe('key configuration', () => {
  const invalid = (build: () => unknown, field: RegExp): void =>
    assert.throws(build, (error: unknown) => {
      assert.ok(error instanceof HubError)
      assert.equal(error.code, 'SSEHUB_ERR_OPTION_INVALID')
      assert.match(error.field ?? '', field)
      assert.ok(!error.message.includes('short-secret'), 'a secret is never printed')
      return true
    })

  it('refuses weak or mismatched keys before listening, naming the flag', () => {
    invalid(() => resolveServeConfig(['--jwt-secret', 'short-secret'], {}), /--jwt-secret/)
    invalid(() => resolveServeConfig([], { SSEHUB_JWT_SECRET: 'short-secret' }), /SSEHUB_JWT_SECRET/)
    invalid(() => createHubServer({ jwtSecret: SECRET, jwtAlgs: ['HS512'] }), /jwtSecret/)
    invalid(() => createHubServer({ jwtKey: keys('rsa', 1024).publicPem }), /jwtKey/)
    invalid(() => createHubServer({ jwtKey: 'not a pem' }), /jwtKey/)
    invalid(() => createHubServer({ jwtKey: ec.publicPem, jwtAlgs: ['RS256'] }), /jwtAlgs/)
    invalid(() => createHubServer({ jwtKey: rsa.publicPem, jwtAlgs: ['HS256'] }), /jwtAlgs/)
    invalid(() => createHubServer({ jwksUrl: 'http://keys.example/jwks.json' }), /jwksUrl/)
    invalid(() => resolveServeConfig(['--auth', 'publish'], {}), /--auth/)
    invalid(() => resolveServeConfig(['--private-prefix', 'private/'], {}), /--private-prefix/)
    invalid(() => resolveServeConfig(['--auth-query-token'], {}), /--auth-query-token/)
    invalid(() => resolveServeConfig(['--jwt-alg', 'none'], {}), /--jwt-alg/)
    invalid(
      () => resolveServeConfig(['--headers-timeout-ms', '5000', '--request-timeout-ms', '1000'], {}),
      /--headers-timeout-ms/,
    )
  })

  it('resolves auth auto to publish with a key and to off without', () => {
    assert.equal(resolveServeConfig([], {}).auth, 'auto')
    const server = createHubServer({ jwtSecret: SECRET })
    assert.ok(server)
    const pem = resolveServeConfig([], { SSEHUB_JWT_KEY: rsa.publicPem, SSEHUB_JWT_ALG: 'PS256' })
    assert.equal(pem.jwtKey, rsa.publicPem.trim())
    assert.deepEqual(pem.jwtAlgs, ['PS256'])
  })
})
