import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { waitFor, withTimeout } from '@ssehub/testkit'
import { parse } from 'yaml'
import { CLI_START_MS, type CliRun, cliExit, spawnCli } from './helpers.js'

/** Runs the real `ssehub` entry in `cwd`, with only `env` beyond PATH and HOME. */
function run(args: string[], cwd: string, env: Record<string, string> = {}): CliRun {
  // Not the test's own environment: an SSEHUB_* variable there must not leak into the layers.
  return spawnCli(args, { cwd, env, baseEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } })
}

function folder(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-config-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const JWT_SECRET = 'jwt-secret-0123456789-abcdefghij-KLMNOP'
const REDIS_PASSWORD = 'redis-pass-qwerty-0987'
const METRICS_TOKEN = 'metrics-token-zyxwvutsrq-12345'

test('ssehub config check prints ok with the file and exits 0, or every problem and exits 2', async (t) => {
  const good = folder(t, { 'ssehub.config.yaml': 'port: 9001\nheartbeatMs: off\n' })
  const bad = folder(t, {
    'ssehub.config.json': `{\n  "prot": 9001,\n  "historyLimit": "many",\n  "jwtSecret": "${JWT_SECRET.slice(0, 10)}"\n}\n`,
  })
  const none = folder(t, {})
  const runs = [
    run(['config', 'check'], good),
    run(['config', 'check'], bad),
    run(['config', 'check'], none),
    // Flags given after check are validated too, and override the file.
    run(['config', 'check', '--port', 'x'], good),
    run(['config', 'check', '--config', 'missing.yaml'], good),
    run(['config', 'check'], good, { SSEHUB_PORT: '99999' }),
  ]
  const [ok, problems, nothing, flag, missing, env] = runs
  assert.ok(ok && problems && nothing && flag && missing && env)
  assert.equal(await cliExit(ok), 0)
  assert.equal(ok.stdout, 'ok: ssehub.config.yaml\n')
  assert.equal(await cliExit(problems), 2)
  assert.equal(problems.stdout, '')
  assert.equal(
    problems.stderr,
    [
      'ssehub config check: 3 problems',
      '  ssehub.config.json:2:3: unknown key "prot" (did you mean "port"?)',
      '  ssehub.config.json:3:3: invalid historyLimit: expected an integer, not a string',
      '  ssehub.config.json:4:3: invalid jwtSecret: expected a secret of at least 32 bytes',
      '',
    ].join('\n'),
  )
  assert.equal(await cliExit(nothing), 0)
  assert.match(nothing.stdout, /^ok: no config file/)
  assert.equal(await cliExit(flag), 2)
  assert.match(flag.stderr, /invalid --port "x"/)
  assert.equal(await cliExit(missing), 2)
  assert.match(missing.stderr, /cannot read the config file missing\.yaml given by --config: no such file/)
  assert.equal(await cliExit(env), 2)
  assert.match(env.stderr, /invalid SSEHUB_PORT "99999"/)
})

test('ssehub config print shows the effective settings with their sources, and never a secret', async (t) => {
  const dir = folder(t, {
    'ssehub.config.yaml': [
      `jwtSecret: ${JWT_SECRET}`,
      `redisUrl: redis://hub:${REDIS_PASSWORD}@127.0.0.1:6379/2`,
      `metricsToken: ${METRICS_TOKEN}`,
      'port: 7001',
      'historyLimit: 50',
      'corsOrigins: [https://app.example.com]',
      '',
    ].join('\n'),
  })
  const env = { SSEHUB_HISTORY_LIMIT: '60', SSEHUB_PORT: '7002' }
  const yaml = run(['config', 'print', '--port', '7003'], dir, env)
  const json = run(['config', 'print', '--format', 'json'], dir, env)
  const badFormat = run(['config', 'print', '--format', 'toml'], dir)
  assert.equal(await cliExit(yaml), 0, yaml.stderr)
  assert.equal(await cliExit(json), 0, json.stderr)
  for (const output of [yaml.stdout, yaml.stderr, json.stdout, json.stderr]) {
    for (const secret of [JWT_SECRET, REDIS_PASSWORD, METRICS_TOKEN])
      assert.ok(!output.includes(secret), secret)
  }
  // YAML: each key with its source as a comment; the output is itself a config file.
  assert.match(yaml.stdout, /^port: 7003 # flag --port$/m)
  assert.match(yaml.stdout, /^historyLimit: 60 # env SSEHUB_HISTORY_LIMIT$/m)
  assert.match(yaml.stdout, /^corsOrigins: # file ssehub\.config\.yaml\n {2}- https:\/\/app\.example\.com$/m)
  assert.match(yaml.stdout, /^heartbeatMs: \d+ # default$/m)
  assert.match(yaml.stdout, /^jwtSecret: "\[redacted\]" # file ssehub\.config\.yaml$/m)
  assert.match(yaml.stdout, /^redisUrl: redis:\/\/\[redacted\]@127\.0\.0\.1:6379\/2 # file/m)
  const printed = parse(yaml.stdout) as Record<string, unknown>
  assert.equal(printed.port, 7003)
  assert.equal(printed.metricsToken ?? '[redacted]', '[redacted]')
  // JSON: the file, the settings and a sources object.
  const body = JSON.parse(json.stdout) as {
    file: string
    config: Record<string, unknown>
    sources: Record<string, string>
  }
  assert.equal(body.file, 'ssehub.config.yaml')
  assert.equal(body.config.port, 7002)
  assert.equal(body.sources.port, 'env SSEHUB_PORT')
  assert.equal(body.config.historyLimit, 60)
  assert.equal(body.sources.corsOrigins, 'file ssehub.config.yaml')
  assert.equal(body.sources.demo, 'default')
  assert.equal(body.config.jwtSecret, '[redacted]')
  assert.equal(await cliExit(badFormat), 2)
  assert.match(badFormat.stderr, /invalid --format "toml": expected yaml or json/)
})

test('ssehub config print output reads back as a config file with the same settings', async (t) => {
  const dir = folder(t, {
    'base.yaml': 'port: 7100\nretryMs: off\ncorsOrigins: [https://a.example]\nauth: off\n',
  })
  const print = run(['config', 'print', '--config', 'base.yaml', '--history-limit', '7'], dir)
  assert.equal(await cliExit(print), 0, print.stderr)
  writeFileSync(join(dir, 'printed.yaml'), print.stdout)
  const again = run(['config', 'print', '--config', 'printed.yaml', '--format', 'json'], dir)
  assert.equal(await cliExit(again), 0, again.stderr)
  const { config } = JSON.parse(again.stdout) as { config: Record<string, unknown> }
  assert.equal(config.port, 7100)
  assert.equal(config.retryMs, false)
  assert.equal(config.historyLimit, 7)
  assert.equal(config.auth, 'off')
  assert.deepEqual(config.corsOrigins, ['https://a.example'])
})

test('ssehub serve --config runs with the file below flags, and exits 2 listing every problem of a bad file', async (t) => {
  const dir = folder(t, {
    'hub.json': '{ "host": "127.0.0.1", "port": 0, "demo": false, "historyLimit": 3 }',
    'bad.yaml': 'port: -1\ndemo: maybe\nhots: 127.0.0.1\n',
  })
  const serve = run(['serve', '--config', 'hub.json', '--history-limit', '4'], dir)
  t.after(() => {
    serve.kill('SIGKILL')
  })
  await waitFor(() => /curl -d data=hello .*\n/.test(serve.stdout), CLI_START_MS, 'the banner')
  const port = /listening on http:\/\/localhost:(\d+)/.exec(serve.stdout)?.[1]
  assert.ok(port && Number(port) > 0, serve.stdout)
  // demo: false from the file: GET / answers 404.
  const page = await withTimeout(fetch(`http://127.0.0.1:${port}/`), 5_000, 'GET /')
  assert.equal(page.status, 404)
  await page.body?.cancel()
  serve.child.kill('SIGTERM')
  assert.equal(await cliExit(serve), 0)

  const bad = run(['serve', '--config', 'bad.yaml'], dir)
  assert.equal(await cliExit(bad), 2)
  assert.equal(
    bad.stderr,
    [
      'ssehub serve: 3 problems (see ssehub serve --help)',
      '  bad.yaml:1:1: invalid port -1: expected an integer from 0 to 65535',
      '  bad.yaml:2:1: invalid demo: expected true or false, not a string',
      '  bad.yaml:3:1: unknown key "hots" (did you mean "host"?)',
      '',
    ].join('\n'),
  )
  assert.doesNotMatch(bad.stdout, /listening/)
})

test('ssehub --help, config --help and serve --help describe the config file', async (t) => {
  const dir = folder(t, {})
  const main = run(['--help'], dir)
  const config = run(['config', '--help'], dir)
  const serve = run(['serve', '--help'], dir)
  const bare = run(['config'], dir)
  const unknown = run(['config', 'show'], dir)
  assert.equal(await cliExit(main), 0)
  assert.match(main.stdout, /config {6}check or print the settings of serve/)
  assert.equal(await cliExit(config), 0)
  assert.match(config.stdout, /Usage: ssehub config check/)
  assert.match(config.stdout, /ssehub\.config\.json, ssehub\.config\.yaml, ssehub\.config\.yml/)
  assert.equal(await cliExit(serve), 0)
  assert.match(serve.stdout, /--config <file> +settings file/)
  assert.match(serve.stdout, /SSEHUB_CONFIG/)
  assert.equal(await cliExit(bare), 2)
  assert.match(bare.stderr, /Usage: ssehub config/)
  assert.equal(await cliExit(unknown), 2)
  assert.match(unknown.stderr, /unknown command "show" \(check or print/)
})
