/**
 * The Redis side of `ssehub serve` that needs no Redis: its options, the Flask-SSE message
 * format, the 503 guard of new streams, and the refusal to start without a reachable Redis.
 */
import assert from 'node:assert/strict'
import { describe, it, test } from 'node:test'
import { MemoryBroker } from '@ssehub/core'
import { DEFAULT_KEY_PREFIX, DEFAULT_PUBLISH_TIMEOUT_MS } from '@ssehub/redis'
import { freePort, withTimeout } from '@ssehub/testkit'
import { HubError, resolveServeConfig } from 'ssehub'
import { parseFlaskSseMessage } from '../src/flask-sse-bridge.js'
import { DEFAULT_BROKER_TIMEOUT_MS, DEFAULT_REDIS_PREFIX, REDIS_OPTIONS } from '../src/redis-options.js'
import { answer, request, startHub } from './helpers.js'
import { runCli } from './redis-hubs.js'

function rejects(args: string[], env: Record<string, string>, pattern: RegExp): void {
  assert.throws(
    () => resolveServeConfig(args, env),
    (error: unknown) => {
      assert.ok(error instanceof HubError)
      assert.equal(error.code, 'SSEHUB_ERR_OPTION_INVALID')
      assert.match(error.message, pattern)
      return true
    },
    `${args.join(' ')} ${JSON.stringify(env)}`,
  )
}

describe('ssehub serve Redis options', () => {
  it('default to the memory broker, with the RedisBroker defaults ready for --redis', () => {
    const config = resolveServeConfig([], {})
    assert.equal(config.redisUrl, false)
    assert.equal(config.redisPrefix, DEFAULT_KEY_PREFIX)
    assert.equal(config.brokerTimeoutMs, DEFAULT_PUBLISH_TIMEOUT_MS)
    assert.deepEqual(config.flaskSseChannels, [])
    // The hub keeps its own copies so that a hub without --redis never loads node-redis.
    assert.equal(DEFAULT_REDIS_PREFIX, DEFAULT_KEY_PREFIX)
    assert.equal(DEFAULT_BROKER_TIMEOUT_MS, DEFAULT_PUBLISH_TIMEOUT_MS)
    assert.deepEqual(
      REDIS_OPTIONS.map((option) => option.flag),
      ['redis', 'redis-prefix', 'broker-timeout-ms', 'flask-sse-channel'],
    )
  })

  it('take flags over SSEHUB_REDIS_URL over REDIS_URL, and Flask-SSE channels repeated or comma-separated', () => {
    const env = {
      REDIS_URL: 'redis://heroku:6379',
      SSEHUB_REDIS_URL: 'rediss://user:secret@redis.example:6380/2',
      SSEHUB_REDIS_PREFIX: 'app:{sse}:',
      SSEHUB_BROKER_TIMEOUT_MS: '750',
      SSEHUB_FLASK_SSE_CHANNEL: 'sse, news',
    }
    const fromEnv = resolveServeConfig([], env)
    assert.equal(fromEnv.redisUrl, 'rediss://user:secret@redis.example:6380/2')
    assert.equal(fromEnv.redisPrefix, 'app:{sse}:')
    assert.equal(fromEnv.brokerTimeoutMs, 750)
    assert.deepEqual(fromEnv.flaskSseChannels, ['sse', 'news'])
    assert.equal(resolveServeConfig([], { REDIS_URL: 'redis://heroku:6379' }).redisUrl, 'redis://heroku:6379')
    const fromFlags = resolveServeConfig(
      [
        '--redis',
        'redis://127.0.0.1',
        '--redis-prefix',
        'a:',
        '--broker-timeout-ms',
        '100',
        '--flask-sse-channel',
        'sse',
        '--flask-sse-channel',
        'x,y',
      ],
      env,
    )
    assert.equal(fromFlags.redisUrl, 'redis://127.0.0.1')
    assert.equal(fromFlags.redisPrefix, 'a:')
    assert.equal(fromFlags.brokerTimeoutMs, 100)
    assert.deepEqual(fromFlags.flaskSseChannels, ['sse', 'x', 'y'])
  })

  it('reject invalid values naming the option, without printing a password', () => {
    rejects(
      ['--redis', 'http://user:hunter2@host'],
      {},
      /--redis "http:\/\/user:\*\*\*@host\/": expected redis/,
    )
    rejects([], { REDIS_URL: 'redis://:hunter2@' }, /REDIS_URL/)
    for (const bad of ['redis://host/x', 'redis://host?db=1', 'localhost:6379', '']) {
      rejects(['--redis', bad], {}, /--redis/)
    }
    assert.doesNotThrow(() => resolveServeConfig(['--redis', 'redis://:pw@host:1/3'], {}))
    rejects(['--redis', 'redis://h', '--redis-prefix', 'a{b'], {}, /--redis-prefix "a\{b"/)
    rejects(['--redis', 'redis://h', '--redis-prefix', 'a b'], {}, /--redis-prefix/)
    rejects(['--redis', 'redis://h', '--broker-timeout-ms', '0'], {}, /--broker-timeout-ms "0"/)
    rejects(['--redis', 'redis://h', '--flask-sse-channel', 'ssehub.x'], {}, /--flask-sse-channel "ssehub.x"/)
    rejects(['--redis', 'redis://h', '--flask-sse-channel', 'news*'], {}, /--flask-sse-channel "news\*"/)
    rejects(['--redis', 'redis://h'], { SSEHUB_FLASK_SSE_CHANNEL: ' , ' }, /SSEHUB_FLASK_SSE_CHANNEL/)
    assert.throws(
      () => resolveServeConfig(['--redis', 'redis://u:hunter2@h/x'], {}),
      (error: unknown) => !(error as Error).message.includes('hunter2'),
    )
  })

  it('refuse the Redis-only options without --redis rather than ignore them', () => {
    rejects(['--flask-sse-channel', 'sse'], {}, /^--flask-sse-channel needs --redis <url>/)
    rejects([], { SSEHUB_FLASK_SSE_CHANNEL: 'sse' }, /--flask-sse-channel needs --redis/)
    rejects(['--redis-prefix', 'a:'], {}, /--redis-prefix needs --redis/)
    rejects(['--broker-timeout-ms', '100'], {}, /--broker-timeout-ms needs --redis/)
  })
})

describe('parseFlaskSseMessage', () => {
  const event = (message: string) => {
    const parsed = parseFlaskSseMessage(message)
    assert.ok(parsed.ok, `${message}: ${parsed.ok ? '' : parsed.reason}`)
    return parsed.event
  }
  const refused = (message: string, pattern: RegExp, invalid = true) => {
    const parsed = parseFlaskSseMessage(message)
    assert.ok(!parsed.ok, message)
    assert.match(parsed.reason, pattern)
    assert.equal(parsed.invalid, invalid)
  }

  it('sends string data as is and any other data as the JSON text Flask-SSE wrote, as its Message.__str__ does', () => {
    assert.deepEqual(event('{"data": "hello"}'), { data: 'hello' })
    assert.deepEqual(event('{"data": "\\"quoted\\""}'), { data: '"quoted"' })
    assert.deepEqual(event('{"data": {"b": 1.0, "a": [true, null, "\\u00e9"]}, "type": "greeting"}'), {
      data: '{"b": 1.0, "a": [true, null, "\\u00e9"]}',
      event: 'greeting',
    })
    assert.deepEqual(event('{"data":{"compact":[1,{"x":"}"}]}}'), { data: '{"compact":[1,{"x":"}"}]}' })
    assert.deepEqual(event('{"data": 12345678901234567890}'), { data: '12345678901234567890' })
    assert.deepEqual(event('{"data": null}'), { data: 'null' })
    assert.deepEqual(event('{"data": false}'), { data: 'false' })
    assert.deepEqual(event('{"data": "first", "data": {"last": "wins"}}'), { data: '{"last": "wins"}' })
  })

  it("splits data lines as Python's splitlines does, and skips data a browser would never dispatch", () => {
    assert.deepEqual(event('{"data": "a\\r\\nb\\rc\\nd\\u2028e\\u000bf"}'), { data: 'a\nb\nc\nd\ne\nf' })
    assert.deepEqual(event('{"data": "trailing\\n"}'), { data: 'trailing' })
    assert.deepEqual(event('{"data": "\\n"}'), { data: '' })
    refused('{"data": ""}', /empty data/, false)
    refused('{"data": "", "type": "ping"}', /empty data/, false)
  })

  it('keeps type, id and retry only when truthy, as Flask-SSE writes them', () => {
    assert.deepEqual(event('{"data": "x", "type": null, "id": 0, "retry": 0}'), { data: 'x' })
    assert.deepEqual(event('{"data": "x", "type": "", "id": "", "retry": null}'), { data: 'x' })
    assert.deepEqual(event('{"data": "x", "id": 42, "retry": 1500}'), { data: 'x', id: '42', retry: 1500 })
    assert.deepEqual(event('{"data": "x", "id": 4.0}'), { data: 'x', id: '4.0' })
    assert.deepEqual(event('{"data": "x", "id": "order-7"}'), { data: 'x', id: 'order-7' })
    // A browser ignores a retry that is not all digits; so does the bridge.
    assert.deepEqual(event('{"data": "x", "retry": 1500.0}'), { data: 'x' })
    assert.deepEqual(event('{"data": "x", "retry": "soon"}'), { data: 'x' })
    assert.deepEqual(event('{"data": "x", "unknown": 1}'), { data: 'x' })
  })

  it('refuses what is not a Flask-SSE message', () => {
    refused('', /not JSON/)
    refused('NaN', /not JSON/)
    refused('{"data": NaN}', /not JSON/)
    refused('"data"', /not a JSON object/)
    refused('[{"data": 1}]', /not a JSON object/)
    refused('{"type": "x"}', /no "data" field/)
    refused('{"data": 1, "type": 5}', /"type" is not a string/)
    refused('{"data": 1, "id": ["a"]}', /"id" is neither/)
  })
})

test('a hub whose broker is degraded refuses new streams with 503 and Retry-After, and /readyz answers 503 while /healthz stays 200', async (t) => {
  class DownBroker extends MemoryBroker {
    down = true
    override state() {
      return this.down ? ('degraded' as const) : super.state()
    }
  }
  const broker = new DownBroker()
  const hub = await startHub({ broker })
  t.after(async () => {
    await hub.close()
    await broker.close()
  })
  const refused = await request(hub.at('events?channel=a'))
  assert.equal(refused.status, 503)
  assert.equal(refused.headers.get('retry-after'), '2')
  assert.equal((await answer(refused)).body.error.code, 'SSE_ERR_BROKER_UNAVAILABLE')
  const readyz = await answer(await request(hub.at('readyz')))
  assert.equal(readyz.status, 503)
  assert.deepEqual(readyz.body, { status: 'unready', broker: 'degraded', draining: false, sessions: 0 })
  const healthz = await answer(await request(hub.at('healthz')))
  assert.equal(healthz.status, 200, 'alive: restarting the process would not bring the broker back')
  assert.equal(healthz.body.broker, 'degraded')
  broker.down = false
  assert.equal((await request(hub.at('events?channel=a'), { method: 'HEAD' })).status, 200)
  assert.equal((await answer(await request(hub.at('readyz')))).status, 200)
})

test('ssehub serve exits 1 with a clear message when Redis cannot be reached at start-up, and never listens', async (t) => {
  const port = await freePort()
  const run = runCli([
    'serve',
    '--port',
    '0',
    '--redis',
    `redis://:hunter2@127.0.0.1:${port}`,
    '--broker-timeout-ms',
    '300',
  ])
  t.after(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL')
  })
  assert.equal(await withTimeout(run.exited, 20_000, 'ssehub serve'), 1)
  assert.match(
    run.stderr(),
    new RegExp(
      `^ssehub serve: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} within 300 ms: .*ECONNREFUSED`,
    ),
  )
  assert.doesNotMatch(run.stderr(), /hunter2/)
  assert.doesNotMatch(run.stdout(), /listening/)
})
