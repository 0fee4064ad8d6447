import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort, waitFor, withTimeout } from '@ssehub/testkit'
import { REDACTED, redactText, redactUrl } from '../src/redact.js'
import { SECRET, token } from './security-helpers.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Runs the CLI; the child is killed when the test ends, whatever happened. */
function run(
  t: { after: (fn: () => void) => void },
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@ssehub/source', 'packages/hub/src/cli.ts', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
  })
  return { child, output: () => output }
}

test('redacts query tokens, Bearer credentials, JWTs and URL passwords from printed text', async () => {
  const jwt = await token({ subscribe: ['*'] })
  const line = `GET /events?channel=a&access_token=${jwt}&x=1 Authorization: Bearer ${jwt} raw ${jwt}`
  const redacted = redactText(line)
  assert.ok(!redacted.includes(jwt))
  assert.match(redacted, /access_token=\[redacted\]&x=1/)
  assert.match(redacted, /Bearer \[redacted\]/)
  assert.equal(redactText('/events?token=abc&channel=x'), `/events?token=${REDACTED}&channel=x`)
  assert.equal(
    redactUrl('https://user:hunter2@hub.example/events?access_token=abc'),
    `https://${REDACTED}@hub.example/events?access_token=${REDACTED}`,
  )
  assert.equal(
    redactUrl('http://localhost:8080/events?channel=news'),
    'http://localhost:8080/events?channel=news',
  )
})

test('the hub and the CLI never print a token from a URL or a header', async (t) => {
  const jwt = await token({ subscribe: ['news'], publish: ['news'] })
  const expired = await token({ subscribe: ['news'] }, { ttlS: -60 })
  const port = await freePort()
  const serve = run(t, ['serve', '--port', String(port), '--auth-query-token', '--auth', 'all'], {
    SSEHUB_JWT_SECRET: SECRET,
  })
  await waitFor(() => serve.output().includes('listening'), 30_000, 'hub start')
  const base = `http://127.0.0.1:${port}`
  for (const path of [
    `/events?channel=news&access_token=${jwt}`,
    `/events?channel=news&access_token=${expired}`,
    `/events?channel=forbidden&access_token=${jwt}`,
    `/nowhere?access_token=${jwt}`,
    `/publish?access_token=${jwt}`,
  ]) {
    const response = await withTimeout(
      fetch(`${base}${path}`, {
        method: path.startsWith('/publish') ? 'POST' : 'GET',
        headers: { 'content-type': 'application/json' },
        ...(path.startsWith('/publish') ? { body: '{"channel":"news","data":"x"}' } : {}),
        signal: AbortSignal.timeout(5000),
      }),
      5000,
      path,
    )
    const body = await response.text().catch(() => '')
    assert.ok(!body.includes(jwt) && !body.includes(expired), `${path}: the answer never quotes the token`)
  }
  // The CLI client: a refused token; then a URL with a password, which fetch cannot even send:
  // the client keeps retrying and printing the URL, redacted.
  const subscribe = run(t, ['subscribe', '--url', `http://127.0.0.1:${port}/`, '--token', expired, 'news'])
  const code = await withTimeout(
    new Promise((resolve) => subscribe.child.once('exit', resolve)),
    30_000,
    'subscribe',
  )
  assert.equal(code, 1)
  assert.match(subscribe.output(), /401/)
  const password = run(t, [
    'subscribe',
    '--url',
    `http://user:hunter2@127.0.0.1:${port}/`,
    '--token',
    jwt,
    'news',
  ])
  await waitFor(() => /cannot reach/.test(password.output()), 30_000, 'subscribe retrying')
  password.child.kill('SIGINT')
  await withTimeout(new Promise((resolve) => password.child.once('exit', resolve)), 15_000, 'subscribe exit')
  assert.match(password.output(), /\[redacted\]@127\.0\.0\.1/)
  serve.child.kill('SIGTERM')
  await withTimeout(new Promise((resolve) => serve.child.once('exit', resolve)), 15_000, 'hub exit')
  for (const output of [serve.output(), subscribe.output(), password.output()]) {
    assert.ok(!output.includes(jwt), output)
    assert.ok(!output.includes(expired), output)
    assert.ok(!output.includes('hunter2'), output)
  }
})
