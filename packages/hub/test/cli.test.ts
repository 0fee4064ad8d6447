import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { freePort, openSse, waitFor } from '@ssehub/testkit'
import { CLI_START_MS, type CliRun, cliExit, spawnCli, startHub } from './helpers.js'

function run(args: string[], env: Record<string, string> = {}): CliRun {
  return spawnCli(args, { env, stdin: 'pipe' })
}

test('ssehub --help, --version and <command> --help describe the CLI', async () => {
  const main = run(['--help'])
  assert.equal(await cliExit(main), 0)
  assert.match(main.stdout, /Usage: ssehub <command>/)
  assert.match(main.stdout, /serve/)
  const version = run(['--version'])
  assert.equal(await cliExit(version), 0)
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/)
  const serve = run(['serve', '--help'])
  assert.equal(await cliExit(serve), 0)
  for (const flag of [
    '--host',
    '--port',
    '--heartbeat-ms',
    '--retry-ms',
    '--history-limit',
    '--history-ttl-ms',
    '--max-body-bytes',
    '--cors-origin',
    '--[no-]demo',
    'SSEHUB_PORT, PORT',
  ]) {
    assert.ok(serve.stdout.includes(flag), flag)
  }
  const publish = run(['publish', '--help'])
  const subscribe = run(['subscribe', '--help'])
  assert.equal(await cliExit(publish), 0)
  assert.equal(await cliExit(subscribe), 0)
  assert.match(publish.stdout, /Usage: ssehub publish/)
  assert.match(subscribe.stdout, /Usage: ssehub subscribe/)
  const unknown = run(['launch'])
  assert.equal(await cliExit(unknown), 2)
  assert.match(unknown.stderr, /unknown command "launch"/)
})

test('ssehub serve exits 2 naming the option for an invalid value, before listening', async () => {
  const port = await freePort()
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--port', 'abc'], {}, /--port "abc"/],
    [['--heartbeat-ms', '-5', '--port', String(port)], {}, /--heartbeat-ms "-5"/],
    [['--port', String(port)], { SSEHUB_HISTORY_LIMIT: 'lots' }, /SSEHUB_HISTORY_LIMIT "lots"/],
    [['--frobnicate'], {}, /unknown option --frobnicate/],
  ]
  const runs = cases.map(([args, env]) => run(['serve', ...args], env))
  for (const [i, cli] of runs.entries()) {
    assert.equal(await cliExit(cli), 2)
    assert.match(cli.stderr, cases[i]?.[2] ?? /never/)
    assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr)
    assert.doesNotMatch(cli.stdout, /listening/)
  }
})

test('ssehub serve prints its URL, streams, and stops with code 0 on SIGTERM, ending open streams', async (t) => {
  const port = await freePort()
  const serve = run(['serve', '--port', String(port), '--heartbeat-ms', '1000'])
  t.after(() => serve.kill('SIGKILL'))
  // The banner ends with the publish hint: wait for all of it.
  await serve.waitFor(/curl -d data=hello .*\n/)
  assert.match(serve.stdout, new RegExp(`ssehub listening on http://localhost:${port}\\n`))
  assert.match(serve.stdout, new RegExp(`http://localhost:${port}/\\n`))
  const base = `http://127.0.0.1:${port}/`
  const stream = await openSse(`${base}events?channel=cli`)
  t.after(() => stream.close())
  assert.equal(stream.status, 200)
  const published = await fetch(`${base}publish`, {
    method: 'POST',
    body: new URLSearchParams({ channel: 'cli', data: 'hi' }),
  })
  assert.equal(published.status, 200)
  await stream.waitForEvents(1)
  serve.child.kill('SIGTERM')
  await stream.waitForEnd(10_000)
  assert.equal(await cliExit(serve, 10_000), 0)
  assert.match(serve.stderr, /SIGTERM received, ending 1 stream/)
})

test('ssehub serve exits at once on a second signal while the first one waits for requests in flight', async (t) => {
  const port = await freePort()
  const serve = run(['serve', '--port', String(port)])
  t.after(() => serve.kill('SIGKILL'))
  await serve.waitFor(/curl -d data=hello .*\n/)
  // A publish whose body never finishes keeps the graceful stop waiting.
  const socket = connect(port, '127.0.0.1')
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  socket.write(
    'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"da',
  )
  await new Promise((resolve) => setTimeout(resolve, 200))
  serve.child.kill('SIGINT')
  await serve.waitFor(/SIGINT received/, 5000)
  const second = Date.now()
  serve.child.kill('SIGINT')
  assert.equal(await cliExit(serve, 5000), 130)
  assert.ok(Date.now() - second < 2000, 'exited without waiting for the grace period')
  assert.match(serve.stderr, /SIGINT again, exiting now/)
})

test('ssehub serve reports a port that is already taken and exits 1', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const serve = run(['serve', '--port', hub.url.port])
  t.after(() => serve.kill('SIGKILL'))
  assert.equal(await cliExit(serve), 1)
  assert.match(serve.stderr, /EADDRINUSE/)
})

test('ssehub publish and ssehub subscribe --max-events round-trip events', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const url = hub.url.href
  const subscribe = run(['subscribe', '--url', url, '--max-events', '3', 'room', 'tasks/*'])
  t.after(() => subscribe.kill('SIGKILL'))
  await waitFor(() => hub.hub.stats().sessions === 1, CLI_START_MS, 'subscriber connected')

  const first = run([
    'publish',
    '--url',
    url,
    '--channel',
    'room',
    '--event',
    'greeting',
    '--id',
    'g-1',
    'hello\nworld',
  ])
  assert.equal(await cliExit(first), 0, first.stderr)
  assert.deepEqual(JSON.parse(first.stdout), { id: 'g-1', channel: 'room', subscribers: 1 })
  const second = run(['publish', '--url', url, '--channel', 'tasks/7', '--json', '{"done":true}'])
  assert.equal(await cliExit(second), 0, second.stderr)
  const secondId = JSON.parse(second.stdout).id as string
  const third = run(['publish', '--url', url, '-c', 'room', '-'])
  third.child.stdin?.end('from stdin')
  assert.equal(await cliExit(third), 0, third.stderr)
  const thirdId = JSON.parse(third.stdout).id as string

  assert.equal(await cliExit(subscribe), 0, subscribe.stderr)
  assert.equal(
    subscribe.stdout,
    `[g-1] greeting: hello\n  world\n[${secondId}] message: {"done":true}\n[${thirdId}] message: from stdin\n`,
  )
})

test('ssehub subscribe --json prints NDJSON and shows resets distinctly', async (t) => {
  const hub = await startHub({ historyLimit: 1 })
  t.after(() => hub.close())
  const old = await hub.hub.publish('j', 'first')
  await hub.hub.publish('j', 'second')
  await hub.hub.publish('j', 'third')
  const json = run(['subscribe', '--url', hub.url.href, '--json', '--last-event-id', old, '-n', '2', 'j'])
  t.after(() => json.kill('SIGKILL'))
  await waitFor(() => hub.hub.stats().sessions === 1, CLI_START_MS, 'subscriber connected')
  const live = await hub.hub.publish('j', 'live', { event: 'update' })
  assert.equal(await cliExit(json), 0, json.stderr)
  const lines = json.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(lines[0].type, 'ssehub.reset')
  assert.deepEqual(JSON.parse(lines[0].data), { reason: 'trimmed', lastEventId: old })
  assert.deepEqual(lines[1], { type: 'update', id: live, data: 'live' })

  const human = run(['subscribe', '--url', hub.url.href, '--last-event-id', 'unknown-id', '-n', '1', 'j'])
  t.after(() => human.kill('SIGKILL'))
  assert.equal(await cliExit(human), 0, human.stderr)
  assert.match(
    human.stdout,
    /^!! \[[0-9a-z]{6}\.[0-9a-z]+\] ssehub\.reset: events were lost \(reason: unknown, after id "unknown-id"\)/,
  )
})

test('ssehub subscribe reconnects with Last-Event-ID when the hub drops the stream', async (t) => {
  const hub = await startHub({ retryMs: 50 })
  t.after(() => hub.close())
  const subscribe = run(['subscribe', '--url', hub.url.href, '--json', '-n', '4', 'r'])
  t.after(() => subscribe.kill('SIGKILL'))
  await waitFor(() => hub.hub.stats().sessions === 1, CLI_START_MS, 'subscriber connected')
  const a = await hub.hub.publish('r', '1')
  await hub.hub.publish('r', '2')
  await waitFor(() => subscribe.stdout.split('\n').length > 2, 5000, 'two events printed')
  hub.server.closeAllConnections()
  // Published while the subscriber is disconnected: it must get them on resume.
  await hub.hub.publish('r', '3')
  await hub.hub.publish('r', '4')
  assert.equal(await cliExit(subscribe), 0, subscribe.stderr)
  const data = subscribe.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).data)
  assert.deepEqual(data, ['1', '2', '3', '4'])
  assert.match(subscribe.stderr, /reconnected, resuming after/)
  assert.ok(a)
})

test('ssehub subscribe exits 0 on SIGINT', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const subscribe = run(['subscribe', '--url', hub.url.href, 'quiet'])
  t.after(() => subscribe.kill('SIGKILL'))
  await waitFor(() => hub.hub.stats().sessions === 1, CLI_START_MS, 'subscriber connected')
  subscribe.child.kill('SIGINT')
  assert.equal(await cliExit(subscribe, 5000), 0)
})

test('ssehub subscribe exits 1 with the hub error when the hub refuses the stream', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const subscribe = run(['subscribe', '--url', hub.url.href, 'bad*channel'])
  t.after(() => subscribe.kill('SIGKILL'))
  assert.equal(await cliExit(subscribe), 1)
  assert.match(subscribe.stderr, /400 SSE_ERR_CHANNEL_INVALID \(field channel\)/)
})

test('ssehub publish exits 1 with the hub error on stderr, and 2 for bad usage', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const refused = run(['publish', '--url', hub.url.href, '--channel', 'ssehub.x', 'data'])
  assert.equal(await cliExit(refused), 1)
  assert.match(refused.stderr, /400 SSE_ERR_CHANNEL_RESERVED \(field channel\)/)
  assert.equal(refused.stdout, '')
  const badJson = run(['publish', '--url', hub.url.href, '--json', '{nope'])
  assert.equal(await cliExit(badJson), 2)
  assert.match(badJson.stderr, /--json/)
  const noData = run(['publish', '--url', hub.url.href])
  assert.equal(await cliExit(noData), 2)
  assert.match(noData.stderr, /missing <data>/)
  const badRetry = run(['publish', '--url', hub.url.href, '--retry', 'soon', 'x'])
  assert.equal(await cliExit(badRetry), 2)
  assert.match(badRetry.stderr, /--retry "soon"/)
  const port = await freePort()
  const unreachable = run(['publish', '--url', `http://127.0.0.1:${port}`, 'x'])
  assert.equal(await cliExit(unreachable), 1)
  assert.match(unreachable.stderr, /cannot reach .*ECONNREFUSED/)
})
