import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort, openSse, type SseStream, sleep, waitFor, withTimeout } from '@ssehub/testkit'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const STALLED = 1_000
const READERS = 4
const EVENTS = 20_000
const BATCH = 250
const EVENT_BYTES = 1024

/** The resident set of a process, in bytes (Linux). */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  assert.ok(kb, 'VmRSS readable')
  return Number(kb) * 1024
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

function post(port: number, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/publish',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

test('1,000 connections that never read leave the hub process bounded in memory and other readers unaffected', async (t) => {
  const port = await freePort()
  // The hub alone in its own process, so that its resident set is what is measured.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // A leak would not just grow: it would crash the hub, and the readers would notice.
      '--max-old-space-size=160',
      '--import',
      'tsx',
      '--conditions=@ssehub/source',
      'packages/hub/src/cli.ts',
      'serve',
      '--port',
      String(port),
      '--no-demo',
      '--heartbeat-ms',
      'off',
      '--publish-rate',
      'off',
      '--max-connections-per-ip',
      String(STALLED + 100),
    ],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
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
  await waitFor(() => output.includes('listening'), 30_000, `hub start: ${output}`)
  const pid = child.pid as number
  const base = `http://127.0.0.1:${port}/`

  // The attackers: connect, subscribe, never read a byte.
  const sockets: Socket[] = []
  t.after(() => {
    for (const socket of sockets) socket.destroy()
  })
  for (let i = 0; i < STALLED; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.pause()
    socket.write(`GET /events?channel=flood HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
    sockets.push(socket)
    if (i % 100 === 99) await sleep(10)
  }
  // Honest readers on the same channel, reading everything.
  const readers: SseStream[] = []
  for (let i = 0; i < READERS; i++)
    readers.push(await openSse(`${base}events?channel=flood`, { timeoutMs: 10_000 }))
  t.after(() => {
    for (const reader of readers) reader.close()
  })
  await waitFor(
    () => {
      const health = readFileSync(`/proc/${pid}/status`, 'utf8')
      return health.length > 0
    },
    1000,
    'process alive',
  )
  await sleep(500)
  const baseline = rss(pid)

  // Publish 20,000 events of 1 KiB: 20 MiB that every stalled connection would hold if nothing
  // bounded it (20 GiB in all).
  const agent = new Agent({ keepAlive: true, maxSockets: 2 })
  t.after(() => agent.destroy())
  const payload = 'x'.repeat(EVENT_BYTES - 8)
  let peak = baseline
  let halfway = baseline
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid))
    } catch {
      // the process is gone; the assertions below report it
    }
  }, 50)
  t.after(() => clearInterval(sampler))
  const started = Date.now()
  await withTimeout(
    (async () => {
      for (let sent = 0; sent < EVENTS; sent += BATCH) {
        // Honest readers may lag, not fall a whole queue behind: on a loaded machine this test
        // process reads slowly, and the hub would rightly drop a reader 1 MiB behind. Stalled
        // connections never read, so they still fill their queues and are dropped.
        await waitFor(
          () => readers.every((reader) => reader.events.length >= sent - 2 * BATCH),
          30_000,
          'honest readers keep up',
        )
        const batch = Array.from({ length: BATCH }, (_, i) => ({
          channel: 'flood',
          data: `${String(sent + i).padStart(7, '0')}${payload}`,
        }))
        assert.equal(await post(port, agent, JSON.stringify(batch)), 200)
        if (sent + BATCH === EVENTS / 2) halfway = peak
      }
    })(),
    90_000,
    'publishing',
  )
  const publishMs = Date.now() - started
  // Every honest reader gets every event, in order, soon after the last publish.
  const deliveredBy = Date.now()
  for (const reader of readers) await reader.waitForEvents(EVENTS, 30_000)
  const lagMs = Date.now() - deliveredBy
  clearInterval(sampler)
  peak = Math.max(peak, rss(pid))
  const after = rss(pid)
  for (const reader of readers) {
    assert.equal(reader.events.length, EVENTS)
    reader.events.forEach((event, i) => {
      if (Number(event.data.slice(0, 7)) !== i)
        assert.fail(`event ${i} out of order: ${event.data.slice(0, 7)}`)
    })
  }
  const health = await withTimeout(fetch(`${base}healthz`), 5000, 'healthz')
  const { sessions } = (await health.json()) as { sessions: number }
  const growth = peak - baseline
  t.diagnostic(
    `rss baseline ${mib(baseline)} (with ${STALLED} stalled + ${READERS} readers), peak after half the events ` +
      `${mib(halfway)}, peak ${mib(peak)}, end ${mib(after)}; ` +
      `growth ${mib(growth)} for ${EVENTS} x ${EVENT_BYTES} B published in ${publishMs} ms; ` +
      `readers done ${lagMs} ms after the last publish; ${sessions} sessions still open`,
  )
  // Unbounded, each stalled client would hold 20 MiB: 20 GiB in all. Bounded, the growth is the
  // queues filling once (bounded per session, shared buffers), then flat.
  assert.ok(
    growth < 160 * 1024 * 1024,
    `the hub grew by ${mib(growth)} while ${STALLED} clients did not read ${mib(EVENTS * EVENT_BYTES)} each`,
  )
  assert.ok(
    peak - halfway < 64 * 1024 * 1024,
    `the second half of the events grew the hub by ${mib(peak - halfway)}: memory follows volume`,
  )
  assert.ok(lagMs < 20_000, `honest readers finished ${lagMs} ms after the last publish`)
  child.kill('SIGTERM')
  await withTimeout(new Promise((resolve) => child.once('exit', resolve)), 15_000, 'hub exit')
})
