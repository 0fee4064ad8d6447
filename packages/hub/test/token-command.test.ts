import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { withTimeout } from '@ssehub/testkit'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import type { CliIo } from '../src/cli-io.js'
import { mintToken, parseTtl, runToken } from '../src/token-command.js'
import { publishJson, request, startHub } from './helpers.js'
import { SECRET } from './security-helpers.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

function fakeIo(env: Record<string, string> = {}): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    env,
    stdin: (async function* () {})(),
    out: (text: string) => {
      io.stdout += text
    },
    err: (text: string) => {
      io.stderr += text
    },
    onSignal: () => () => {},
  }
  return io
}

test('ssehub token mints an HS256 token with the grants, subject and lifetime asked for', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@ssehub/source',
      'packages/hub/src/cli.ts',
      'token',
      '--secret',
      SECRET,
      '--subscribe',
      'news/*',
      '--publish',
      'news/*',
      '--subscribe',
      'alerts',
      '--ttl',
      '1h',
      '--sub',
      'alice',
    ],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  const code = await withTimeout(
    new Promise((resolve) => child.once('exit', resolve)),
    30_000,
    'ssehub token',
  )
  assert.equal(code, 0)
  const jwt = stdout.trim()
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'HS256', typ: 'JWT' })
  const claims = decodeJwt(jwt)
  assert.equal(claims.sub, 'alice')
  assert.deepEqual(claims.ssehub, { subscribe: ['news/*', 'alerts'], publish: ['news/*'] })
  const now = Date.now() / 1000
  assert.ok(Math.abs((claims.exp ?? 0) - (now + 3600)) < 30)
})

test('a minted token is accepted by a hub with the same secret, within its grants only', async (t) => {
  const hub = await startHub({ jwtSecret: SECRET, auth: 'all' })
  t.after(() => hub.close())
  const jwt = await mintToken({ secret: SECRET, subscribe: ['news/*'], publish: ['news/*'], ttlS: 60 })
  const auth = { authorization: `Bearer ${jwt}` }
  assert.equal((await publishJson(hub, { channel: 'news/1', data: 'x' }, auth)).status, 200)
  assert.equal((await publishJson(hub, { channel: 'other', data: 'x' }, auth)).status, 403)
  const stream = await request(hub.at('events?channel=news/1'), { headers: auth })
  assert.equal(stream.status, 200)
  await stream.body?.cancel()
  const other = await request(hub.at('events?channel=other'), { headers: auth })
  assert.equal(other.status, 403)
  await other.body?.cancel()
})

test('ssehub token refuses a short or missing secret, a bad lifetime and a bad grant, never printing the secret', async () => {
  const short = fakeIo()
  assert.equal(await runToken(['--secret', 'tiny-secret'], short), 2)
  assert.match(short.stderr, /at least 32 bytes/)
  assert.ok(!short.stderr.includes('tiny-secret'))
  const missing = fakeIo()
  assert.equal(await runToken([], missing), 2)
  assert.match(missing.stderr, /SSEHUB_JWT_SECRET/)
  const fromEnv = fakeIo({ SSEHUB_JWT_SECRET: SECRET })
  assert.equal(await runToken(['--publish', 'a'], fromEnv), 0)
  assert.equal(fromEnv.stdout.trim().split('.').length, 3)
  for (const ttl of ['0', '1y', '-5m', '400d', 'soon']) {
    const io = fakeIo({ SSEHUB_JWT_SECRET: SECRET })
    assert.equal(await runToken(['--ttl', ttl], io), 2, ttl)
    assert.match(io.stderr, /--ttl/)
  }
  const grant = fakeIo({ SSEHUB_JWT_SECRET: SECRET })
  assert.equal(await runToken(['--subscribe', 'a*b'], grant), 2)
  assert.deepEqual(
    [parseTtl('90s'), parseTtl('15m'), parseTtl('1h'), parseTtl('7d'), parseTtl('30')],
    [90, 900, 3600, 604_800, 30],
  )
})
