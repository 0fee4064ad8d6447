import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isHubError, resolveServeConfig } from 'ssehub'

function refused(args: string[], env: Record<string, string>, pattern: RegExp, secret?: string): void {
  assert.throws(
    () => resolveServeConfig(args, env),
    (error: unknown) => {
      assert.ok(isHubError(error, 'SSEHUB_ERR_OPTION_INVALID'))
      assert.match(error.message, pattern)
      if (secret !== undefined)
        assert.ok(!error.message.includes(secret), 'the message never shows the token')
      return true
    },
    `${args.join(' ')} ${JSON.stringify(env)}`,
  )
}

test('the metrics and log options come from flags, then SSEHUB_ variables, then defaults', () => {
  const defaults = resolveServeConfig([], {})
  assert.deepEqual(
    [
      defaults.metrics,
      defaults.metricsToken,
      defaults.metricsTopChannels,
      defaults.logLevel,
      defaults.logFormat,
    ],
    [true, false, 50, 'info', 'auto'],
  )
  const env = {
    SSEHUB_METRICS: 'off',
    SSEHUB_METRICS_TOKEN: 'a-token-of-24-characters',
    SSEHUB_METRICS_TOP_CHANNELS: '0',
    SSEHUB_LOG_LEVEL: 'DEBUG',
    SSEHUB_LOG_FORMAT: 'json',
  }
  const fromEnv = resolveServeConfig([], env)
  assert.deepEqual(
    [fromEnv.metrics, fromEnv.metricsToken, fromEnv.metricsTopChannels, fromEnv.logLevel, fromEnv.logFormat],
    [false, 'a-token-of-24-characters', 0, 'debug', 'json'],
  )
  const flags = resolveServeConfig(
    ['--metrics', 'on', '--metrics-top-channels', '7', '--log-level', 'silent', '--log-format', 'pretty'],
    env,
  )
  assert.deepEqual(
    [flags.metrics, flags.metricsTopChannels, flags.logLevel, flags.logFormat],
    [true, 7, 'silent', 'pretty'],
  )
})

test('invalid metrics and log options are refused naming the flag or variable, never showing a token', () => {
  refused(['--metrics', 'maybe'], {}, /--metrics "maybe": expected on or off/)
  refused([], { SSEHUB_METRICS_TOKEN: 'short-secret' }, /SSEHUB_METRICS_TOKEN \(not shown\)/, 'short-secret')
  refused(['--metrics-token', 'sixteen chars with spaces'], {}, /--metrics-token/, 'sixteen chars')
  refused(['--metrics-top-channels', '10001'], {}, /--metrics-top-channels "10001"/)
  refused(['--metrics-top-channels', '-1'], {}, /--metrics-top-channels/)
  refused(
    ['--log-level', 'verbose'],
    {},
    /--log-level "verbose": expected one of trace, debug, info, warn, error, fatal, silent/,
  )
  refused([], { SSEHUB_LOG_FORMAT: 'xml' }, /SSEHUB_LOG_FORMAT "xml"/)
})
