import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freePort, openSse, waitFor, withTimeout } from '@ssehub/testkit'
import { mintToken } from 'ssehub'
import { createLogger, formatPretty, serializeError } from '../src/observability/logger.js'
import { type CliRun, type Json, publishJson, request, spawnCli, startHub } from './helpers.js'

const SECRET = 'log-test-secret-that-is-long-enough-0123456789'
const OTHER_SECRET = 'another-secret-nobody-configured-0123456789ab'

/** A logger at `level` whose lines are collected, as `ssehub serve` would write them. */
function collect(level: 'trace' | 'debug' | 'info' = 'debug') {
  const lines: string[] = []
  const logger = createLogger({ level, write: (line) => lines.push(line) })
  const entries = (): Json[] => lines.map((line) => JSON.parse(line))
  return { lines, logger, entries }
}

/** Every part of a JWT that, alone, would leak it (the signature is the secret part). */
function partsOf(jwt: string): string[] {
  return [jwt, ...jwt.split('.').filter((part) => part.length >= 16)]
}

function assertNoSecret(lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    for (const secret of secrets) assert.ok(!line.includes(secret), `a log line leaks a secret: ${line}`)
  }
}

test('logs stream starts and ends at debug and refusals at warn, never a token from a query string or a header', async (t) => {
  const { lines, logger, entries } = collect('debug')
  const hub = await startHub({ jwtSecret: SECRET, auth: 'all', authQueryToken: true, logger })
  t.after(() => hub.close())
  const token = await mintToken({
    secret: SECRET,
    subscribe: ['news'],
    publish: ['news'],
    ttlS: 600,
    subject: 'alice',
  })
  const forged = await mintToken({ secret: OTHER_SECRET, subscribe: ['news'], ttlS: 600, subject: 'mallory' })

  const inQuery = await openSse(hub.at(`events?channel=news&access_token=${token}`))
  t.after(() => inQuery.close())
  assert.equal(inQuery.status, 200)
  const inHeader = await openSse(hub.at('events?channel=news'), {
    headers: { authorization: `Bearer ${token}` },
  })
  t.after(() => inHeader.close())
  assert.equal(inHeader.status, 200)
  assert.equal(
    (await publishJson(hub, { channel: 'news', data: 'hi' }, { authorization: `Bearer ${token}` })).status,
    200,
  )
  await inQuery.waitForEvents(1)
  // Refusals: a forged token in the query and in a header, a forbidden channel, a token in a path.
  assert.equal((await request(hub.at(`events?channel=news&access_token=${forged}`))).status, 401)
  assert.equal(
    (await request(hub.at('events?channel=news'), { headers: { authorization: `Bearer ${forged}` } })).status,
    401,
  )
  assert.equal(
    (await publishJson(hub, { channel: 'secret', data: 'x' }, { authorization: `Bearer ${token}` })).status,
    403,
  )
  assert.equal((await request(hub.at(`${token}/x?access_token=${token}`))).status, 404)
  inQuery.close()
  inHeader.close()
  await waitFor(() => hub.hub.stats().sessions === 0, 5000, 'streams ended')
  await waitFor(
    () => entries().filter((entry) => entry.msg === 'stream closed').length === 2,
    5000,
    'closed lines',
  )

  assertNoSecret(lines, [...partsOf(token), ...partsOf(forged), SECRET])
  const logged = entries()
  const opened = logged.filter((entry) => entry.msg === 'stream opened')
  assert.equal(opened.length, 2)
  for (const entry of opened) {
    assert.equal(entry.level, 'debug')
    assert.equal(typeof entry.session, 'number')
    assert.equal(entry.channels, 1)
    assert.equal(entry.subject, 'alice')
    assert.equal(entry.address, '127.0.0.1')
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT/)
  }
  for (const entry of logged.filter((entry) => entry.msg === 'stream closed')) {
    assert.equal(entry.reason, 'disconnect')
    assert.equal(typeof entry.durationMs, 'number')
    assert.ok(entry.durationMs >= 0)
  }
  const refused = logged.filter((entry) => entry.msg === 'request refused')
  const warned = refused.filter((entry) => entry.level === 'warn')
  assert.deepEqual(
    warned.map((entry) => [entry.status, entry.code]),
    [
      [401, 'SSEHUB_ERR_TOKEN_INVALID'],
      [401, 'SSEHUB_ERR_TOKEN_INVALID'],
      [403, 'SSEHUB_ERR_CHANNEL_FORBIDDEN'],
    ],
  )
  for (const entry of warned) assert.equal(entry.address, '127.0.0.1')
  // A client mistake (404) is logged at debug, its path redacted.
  const missing = refused.find((entry) => entry.status === 404)
  assert.equal(missing?.level, 'debug')
  assert.equal(missing?.code, 'SSEHUB_ERR_NOT_FOUND')
  assert.equal(missing?.path, '/[redacted]/x')
})

test('redacts configured secrets, credentials in headers and URLs, and tokens in errors, at every level', () => {
  const { lines, logger } = collect('trace')
  const jwt =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IiLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr'
  const error = new Error(`upstream refused GET /events?access_token=${jwt} (Bearer ${jwt})`)
  logger.error({ err: serializeError(error) }, 'internal error')
  logger.error({ err: error }, 'raw error, serialised by the logger')
  logger.warn(
    { headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==', cookie: 'sid=cookie-value-1234' } },
    'headers',
  )
  logger.info(
    { config: { jwtSecret: 'configured-jwt-secret-value', metricsToken: 'configured-metrics-token' } },
    'effective config',
  )
  logger.info({ url: 'redis://user:redis-password-value@redis:6379/0' }, 'connecting')
  logger.debug(`a message quoting ${jwt}`)
  logger.trace({ nested: { token: 'nested-token-value' } }, 'nested')
  assert.equal(lines.length, 7)
  assertNoSecret(lines, [
    ...partsOf(jwt),
    'dXNlcjpwYXNzd29yZA==',
    'cookie-value-1234',
    'configured-jwt-secret-value',
    'configured-metrics-token',
    'redis-password-value',
    'nested-token-value',
  ])
  for (const line of lines) assert.ok(line.endsWith('\n') && JSON.parse(line))
  assert.match(lines[0] as string, /"stack":"Error: upstream refused GET \/events\?access_token=\[redacted\]/)
  assert.match(lines[4] as string, /redis:\/\/\[redacted\]@redis:6379\/0/)
})

test('the pretty format prints one readable line per entry, with an error stack below it', () => {
  const { lines, logger } = collect('debug')
  logger.warn({ status: 401, path: '/events', note: 'two words' }, 'request refused')
  logger.error({ err: serializeError(new Error('boom')) }, 'internal error')
  const warn = formatPretty(lines[0] as string)
  assert.match(
    warn,
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}request refused .*status=401 path=\/events note="two words"\n$/,
  )
  assert.ok(!warn.includes('\u001b'), 'no colour unless asked')
  const error = formatPretty(lines[1] as string, true)
  assert.ok(error.includes('\u001b[31mERROR'), 'errors in red')
  assert.match(error, /internal error/)
  assert.match(error, /\n {4}Error: boom\n {4}at /)
  assert.equal(formatPretty('not json\n'), 'not json\n')
})

function serve(args: string[], env: Record<string, string>): CliRun {
  return spawnCli(['serve', ...args], { env })
}

test('ssehub serve logs JSON lines on stderr at --log-level, guards /metrics with SSEHUB_METRICS_TOKEN, and redacts tokens', async (t) => {
  const [port, prettyPort] = [await freePort(), await freePort()]
  const metricsToken = 'cli-metrics-token-0123456789'
  const env = { SSEHUB_JWT_SECRET: SECRET, SSEHUB_METRICS_TOKEN: metricsToken, SSEHUB_LOG_LEVEL: 'debug' }
  const json = serve(
    ['--port', String(port), '--auth', 'all', '--auth-query-token', '--heartbeat-ms', 'off'],
    env,
  )
  t.after(() => json.kill('SIGKILL'))
  const pretty = serve(['--port', String(prettyPort), '--log-format', 'pretty', '--log-level', 'info'], {})
  t.after(() => pretty.kill('SIGKILL'))
  await waitFor(() => json.stderr.includes('"msg":"listening"'), 30_000, 'json hub listening')
  await waitFor(() => / INFO {2}listening /.test(pretty.stderr), 30_000, 'pretty hub listening')
  pretty.kill('SIGTERM')

  const base = `http://127.0.0.1:${port}/`
  const token = await mintToken({
    secret: SECRET,
    subscribe: ['*'],
    publish: ['*'],
    ttlS: 600,
    subject: 'carol',
  })
  const stream = await openSse(`${base}events?channel=cli&access_token=${token}`)
  t.after(() => stream.close())
  assert.equal(stream.status, 200)
  const published = await request(`${base}publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'cli', data: 'hello' }),
  })
  assert.equal(published.status, 200)
  await stream.waitForEvents(1)
  assert.equal((await request(`${base}metrics`)).status, 401)
  const metrics = await request(`${base}metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
  assert.equal(metrics.status, 200)
  assert.match(await metrics.text(), /^ssehub_events_published_total 1$/m)
  assert.equal((await request(`${base}events?access_token=${token}x`)).status, 401)

  json.kill('SIGTERM')
  await stream.waitForEnd(15_000)
  assert.equal(await withTimeout(json.exited, 15_000, 'json hub exit'), 0)
  assert.equal(await withTimeout(pretty.exited, 15_000, 'pretty hub exit'), 0)

  assert.match(json.stdout, /ssehub listening on http:\/\/localhost:/)
  const lines = json.stderr.trimEnd().split('\n')
  assertNoSecret(lines, [...partsOf(token), SECRET, metricsToken])
  const entries: Json[] = lines.map((line) => JSON.parse(line))
  const messages = entries.map((entry) => `${entry.level} ${entry.msg}`)
  for (const expected of [
    'info listening',
    'debug stream opened',
    'warn request refused',
    'info SIGTERM received, ending 1 stream',
    'debug stream closed',
    'info stopped',
  ]) {
    assert.ok(
      messages.some((message) => message.startsWith(expected)),
      `${expected} in\n${messages.join('\n')}`,
    )
  }
  const opened = entries.find((entry) => entry.msg === 'stream opened')
  assert.equal(opened.subject, 'carol')
  assert.equal(opened.pid, entries[0].pid)
  assert.match(pretty.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening url=http:\/\/127\.0\.0\.1:\d+\/ /m)
})
