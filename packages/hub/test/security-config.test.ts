import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HubError, resolveServeConfig } from 'ssehub'
import { serveOptionsHelp } from '../src/config.js'
import { SECRET } from './security-helpers.js'

const SECURITY_KEYS = [
  'auth',
  'jwtSecret',
  'jwtKey',
  'jwtAlgs',
  'jwksUrl',
  'jwtAudience',
  'jwtIssuer',
  'authCookie',
  'authQueryToken',
  'privatePrefix',
  'trustProxy',
  'maxConnections',
  'maxConnectionsPerIp',
  'maxConnectionsPerSubject',
  'maxChannels',
  'maxChannelLength',
  'maxPatternLength',
  'maxIdLength',
  'maxDataBytes',
  'publishRate',
  'publishBurst',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'bodyTimeoutMs',
] as const

function security(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SECURITY_KEYS.map((key) => [key, config[key]]))
}

test('uses the documented security defaults: a development hub on loopback with every limit on', () => {
  const config = resolveServeConfig([], {})
  assert.equal(config.host, '127.0.0.1')
  assert.deepEqual(security(config as unknown as Record<string, unknown>), {
    auth: 'auto',
    jwtSecret: undefined,
    jwtKey: undefined,
    jwtAlgs: [],
    jwksUrl: undefined,
    jwtAudience: undefined,
    jwtIssuer: undefined,
    authCookie: 'ssehub_token',
    authQueryToken: false,
    privatePrefix: undefined,
    trustProxy: 0,
    maxConnections: 10_000,
    maxConnectionsPerIp: 256,
    maxConnectionsPerSubject: 64,
    maxChannels: 100,
    maxChannelLength: 200,
    maxPatternLength: 200,
    maxIdLength: 128,
    maxDataBytes: 1024 * 1024,
    publishRate: 1000,
    publishBurst: 2000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    bodyTimeoutMs: 10_000,
  })
})

test('takes security flags over SSEHUB_ variables, and off for limits', () => {
  const env = {
    SSEHUB_JWT_SECRET: SECRET,
    SSEHUB_AUTH: 'all',
    SSEHUB_JWT_ALG: 'HS384, HS256',
    SSEHUB_PRIVATE_PREFIX: 'private/',
    SSEHUB_TRUST_PROXY: '1',
    SSEHUB_MAX_CONNECTIONS: 'off',
    SSEHUB_PUBLISH_RATE: '50',
    SSEHUB_AUTH_QUERY_TOKEN: 'true',
  }
  assert.throws(() => resolveServeConfig([], env), /one HMAC algorithm/, 'two HMAC algorithms for one secret')
  const config = resolveServeConfig(['--auth', 'publish', '--publish-rate', 'off', '--jwt-alg', 'HS512'], {
    ...env,
    SSEHUB_JWT_SECRET: SECRET.repeat(2),
  })
  assert.equal(config.auth, 'publish')
  assert.deepEqual(config.jwtAlgs, ['HS512'])
  assert.equal(config.privatePrefix, 'private/')
  assert.equal(config.trustProxy, 1)
  assert.equal(config.maxConnections, false)
  assert.equal(config.publishRate, false)
  assert.equal(config.authQueryToken, true)
  assert.equal(resolveServeConfig(['--no-auth-query-token', '--jwt-alg', 'HS256'], env).authQueryToken, false)
})

test('rejects invalid security values with one line naming the flag or variable, never a secret', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--auth', 'maybe'], {}, /--auth/],
    [['--max-connections', '0'], {}, /--max-connections/],
    [['--trust-proxy', '11'], {}, /--trust-proxy/],
    [['--jwt-alg', 'HS999'], { SSEHUB_JWT_SECRET: SECRET }, /--jwt-alg/],
    [['--jwt-key', '/nonexistent/key.pem'], {}, /--jwt-key/],
    [['--auth-cookie', 'bad name'], {}, /--auth-cookie/],
    [[], { SSEHUB_MAX_DATA_BYTES: '1e6' }, /SSEHUB_MAX_DATA_BYTES/],
    [[], { SSEHUB_JWT_SECRET: 'hunter2' }, /SSEHUB_JWT_SECRET/],
    [['--jwks-url', 'http://keys.example/jwks'], {}, /--jwks-url/],
  ]
  for (const [args, env, field] of cases) {
    assert.throws(
      () => resolveServeConfig(args, env),
      (error: unknown) => {
        assert.ok(error instanceof HubError, String(error))
        assert.equal(error.code, 'SSEHUB_ERR_OPTION_INVALID')
        assert.match(error.field ?? '', field)
        assert.doesNotMatch(error.message, /\n/)
        assert.ok(!error.message.includes('hunter2'))
        return true
      },
      args.join(' ') || JSON.stringify(env),
    )
  }
})

test('describes every security option in --help with its default and variable', () => {
  const help = serveOptionsHelp()
  for (const flag of [
    '--auth <mode>',
    '--jwt-secret <secret>',
    '--[no-]auth-query-token',
    '--max-connections-per-ip <n>',
  ]) {
    assert.ok(help.includes(flag), flag)
  }
  assert.match(help, /--max-connections <n>\s+.*\(default: 10000; env: SSEHUB_MAX_CONNECTIONS\)/)
  assert.match(help, /--jwt-secret <secret>\s+.*\(default: none; env: SSEHUB_JWT_SECRET\)/)
})
