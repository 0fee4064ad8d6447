import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_HISTORY_TTL_MS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_QUEUE_EVENTS,
  DEFAULT_RETRY_MS,
} from '@ssehub/core'
import { createHubServer, HubError, resolveServeConfig } from 'ssehub'
import { defaultListenBacklog } from '../src/defaults.js'
import { REDIS_OPTIONS } from '../src/redis-options.js'
import { SECURITY_OPTIONS } from '../src/security-options.js'

/** The security options' defaults: \`security-config.test.ts\` checks each of them. */
const SECURITY_DEFAULTS = Object.fromEntries(
  SECURITY_OPTIONS.map((option) => [option.key, option.defaultValue]),
)
/** The Redis options' defaults: \`redis-options.test.ts\` checks each of them. */
const REDIS_DEFAULTS = Object.fromEntries(REDIS_OPTIONS.map((option) => [option.key, option.defaultValue]))
/** The documented defaults of the options the first two tests set no variable for. */
const UNSET_DEFAULTS = {
  tlsCert: false,
  tlsKey: false,
  adminToken: undefined,
  presenceEvents: false,
  drainMs: 10_000,
  maxStreamMs: false,
  maxStreamJitterMs: undefined,
  metrics: true,
  metricsToken: false,
  metricsTopChannels: 50,
  logLevel: 'info',
  logFormat: 'auto',
  ...SECURITY_DEFAULTS,
  ...REDIS_DEFAULTS,
  workers: 1,
}

function rejects(args: string[], env: Record<string, string>, code: string, pattern: RegExp): void {
  assert.throws(
    () => resolveServeConfig(args, env),
    (error: unknown) => {
      assert.ok(error instanceof HubError)
      assert.equal(error.code, code)
      assert.match(error.message, pattern)
      assert.doesNotMatch(error.message, /\n/)
      return true
    },
    `${args.join(' ')} ${JSON.stringify(env)}`,
  )
}

test('uses the documented defaults when nothing is given', () => {
  assert.deepEqual(resolveServeConfig([], {}), {
    host: '127.0.0.1',
    port: 8080,
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    retryMs: DEFAULT_RETRY_MS,
    historyLimit: DEFAULT_HISTORY_LIMIT,
    historyTtlMs: DEFAULT_HISTORY_TTL_MS,
    maxBodyBytes: 1024 * 1024,
    maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
    maxQueueEvents: DEFAULT_MAX_QUEUE_EVENTS,
    corsOrigins: [],
    demo: true,
    ...UNSET_DEFAULTS,
  })
})

test('takes flags over SSEHUB_ environment variables over defaults', () => {
  const env = {
    SSEHUB_HOST: '0.0.0.0',
    SSEHUB_PORT: '9000',
    PORT: '7000',
    SSEHUB_HEARTBEAT_MS: '5000',
    SSEHUB_RETRY_MS: 'off',
    SSEHUB_HISTORY_LIMIT: '0',
    SSEHUB_HISTORY_TTL_MS: 'off',
    SSEHUB_MAX_BODY_BYTES: '2048',
    SSEHUB_MAX_QUEUE_BYTES: '4096',
    SSEHUB_MAX_QUEUE_EVENTS: '10',
    SSEHUB_CORS_ORIGIN: 'https://a.example, http://localhost:3000/',
    SSEHUB_DEMO: 'false',
  }
  assert.deepEqual(resolveServeConfig([], env), {
    host: '0.0.0.0',
    port: 9000,
    heartbeatMs: 5000,
    retryMs: false,
    historyLimit: 0,
    historyTtlMs: false,
    maxBodyBytes: 2048,
    maxQueueBytes: 4096,
    maxQueueEvents: 10,
    corsOrigins: ['https://a.example', 'http://localhost:3000'],
    demo: false,
    ...UNSET_DEFAULTS,
  })
  const flags = resolveServeConfig(
    [
      '--port',
      '1234',
      '--heartbeat-ms=off',
      '--cors-origin',
      'https://b.example',
      '--cors-origin',
      '*',
      '--demo',
    ],
    env,
  )
  assert.equal(flags.port, 1234)
  assert.equal(flags.heartbeatMs, false)
  assert.deepEqual(flags.corsOrigins, ['https://b.example', '*'])
  assert.equal(flags.demo, true)
  assert.equal(resolveServeConfig(['--no-demo'], {}).demo, false)
  assert.equal(resolveServeConfig([], { PORT: '7000' }).port, 7000)
  assert.equal(resolveServeConfig([], { PORT: '7000', SSEHUB_PORT: '' }).port, 7000)
  assert.equal(resolveServeConfig(['-p', '0'], {}).port, 0)
  assert.equal(resolveServeConfig(['--host', '[::1]'], {}).host, '::1')
})

test('rejects invalid values with a one-line message naming the flag or variable', () => {
  const invalid = 'SSEHUB_ERR_OPTION_INVALID'
  rejects(['--port', 'abc'], {}, invalid, /--port "abc"/)
  rejects(['--port', '65536'], {}, invalid, /--port/)
  rejects(['--port', '-1'], {}, invalid, /--port "-1"/)
  rejects(['--port', ' 80'], {}, invalid, /--port/)
  rejects(['--port', '1e3'], {}, invalid, /--port/)
  rejects([], { SSEHUB_PORT: 'http' }, invalid, /SSEHUB_PORT "http"/)
  rejects([], { PORT: '99999' }, invalid, /PORT "99999"/)
  rejects(['--heartbeat-ms', '-5'], {}, invalid, /--heartbeat-ms "-5"/)
  rejects(['--heartbeat-ms', '0'], {}, invalid, /--heartbeat-ms "0"/)
  rejects(['--heartbeat-ms', '2147483648'], {}, invalid, /--heartbeat-ms/)
  rejects(['--retry-ms', '1.5'], {}, invalid, /--retry-ms "1.5"/)
  rejects(['--history-limit', '-1'], {}, invalid, /--history-limit/)
  rejects(['--history-ttl-ms', 'forever'], {}, invalid, /--history-ttl-ms/)
  rejects(['--max-body-bytes', '0'], {}, invalid, /--max-body-bytes/)
  rejects(['--max-queue-events', 'x'], {}, invalid, /--max-queue-events/)
  rejects(['--host', 'not a host'], {}, invalid, /--host/)
  rejects(['--host', 'http://x'], {}, invalid, /--host/)
  rejects(['--cors-origin', 'app.example.com'], {}, invalid, /--cors-origin/)
  rejects(['--cors-origin', 'https://app.example/path'], {}, invalid, /--cors-origin/)
  rejects(['--cors-origin', 'null'], {}, invalid, /--cors-origin/)
  rejects(['--cors-origin', 'ftp://files.example'], {}, invalid, /--cors-origin/)
  rejects([], { SSEHUB_CORS_ORIGIN: ' , ' }, invalid, /SSEHUB_CORS_ORIGIN/)
  rejects([], { SSEHUB_DEMO: 'maybe' }, invalid, /SSEHUB_DEMO/)
  const usage = 'SSEHUB_ERR_USAGE'
  rejects(['--bogus'], {}, usage, /unknown option --bogus/)
  rejects(['--port'], {}, usage, /--port needs a value/)
  rejects(['--demo=yes'], {}, usage, /--demo does not take a value/)
  rejects(['--no-port'], {}, usage, /unknown option --no-port/)
  rejects(['extra'], {}, usage, /unexpected argument "extra"/)
})

test('validates programmatic options when the server is created, before listening', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ port: 70000 }, /port/],
    [{ host: 'bad host' }, /host/],
    [{ maxBodyBytes: 0 }, /maxBodyBytes/],
    [{ maxBatchEvents: 1.5 }, /maxBatchEvents/],
    [{ corsOrigins: ['https://x.example/path'] }, /corsOrigins/],
    [{ listenBacklog: 0 }, /listenBacklog/],
  ]
  for (const [options, pattern] of cases) {
    assert.throws(() => createHubServer(options), pattern, JSON.stringify(options))
  }
  assert.throws(() => createHubServer({ heartbeatMs: -5 }), /heartbeatMs/)
  assert.throws(() => createHubServer({ historyLimit: -1 }), /historyLimit/)
})

test('listens with the kernel maximum backlog by default (Linux), or the one given', async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
  assert.equal(defaultListenBacklog(), somaxconn)
  // ss shows a listening socket's backlog in its Send-Q column.
  const backlogOf = (port: string): number => {
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim()
    return Number(line.split(/\s+/)[2])
  }
  for (const [options, expected] of [
    [{}, somaxconn],
    [{ listenBacklog: 100 }, 100],
  ] as const) {
    const server = createHubServer({ port: 0, demo: false, ...options })
    const url = await server.listen()
    try {
      assert.equal(backlogOf(url.port), expected)
    } finally {
      await server.close()
    }
  }
})
