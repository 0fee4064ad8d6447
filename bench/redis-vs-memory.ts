/**
 * Publish-to-receive latency and deliveries/s (issue 3): 2 `ssehub serve --redis` processes on
 * one Redis against 1 `ssehub serve` on the memory broker, same load, same run. Subscribers are
 * split over the hubs of a setup and live in a child process; every event carries the time it was
 * published (just before its `POST /publish`), so latency covers the publish request, the broker
 * and the fan-out.
 *
 *   npx tsx --conditions=@ssehub/source bench/redis-vs-memory.ts [subscribers=100] [rate=200] [seconds=5] [rounds=3]
 *
 * Per setup, after a one-second warm-up (JIT, connections): a fixed publish rate, well below what
 * the machine can take (latency and deliveries/s under the same load), then publishing as fast as
 * the subscribers drain (the most deliveries/s, and latency under saturation, which is mostly
 * queueing). The setups alternate for `rounds` rounds and the table shows the median of each figure,
 * so that a noisy neighbour hurts both alike. Not a test: no assertions.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RedisServer } from '@ssehub/testkit'

const subscribers = Number(process.argv[2] ?? 100)
const rate = Number(process.argv[3] ?? 200)
const seconds = Number(process.argv[4] ?? 5)
const rounds = Number(process.argv[5] ?? 3)
const PAD = 'x'.repeat(80)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** The wall clock in milliseconds with sub-millisecond resolution, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now()

interface Summary {
  received: number
  p50: number
  p99: number
  firstAt: number
  lastAt: number
}

if (process.env.REDIS_BENCH_CHILD) {
  // Subscriber process: streams spread over the hubs; latency from the time in each event's data.
  const { request } = await import('node:http')
  const urls = process.env.REDIS_BENCH_CHILD.split(' ')
  let latencies: number[] = []
  let received = 0
  let firstAt = 0
  let lastAt = 0
  let open = 0
  const send = (message: object): void => {
    if (process.connected) process.send?.(message, undefined, {}, () => {})
  }
  for (let i = 0; i < subscribers; i++) {
    const url = new URL(urls[i % urls.length] as string)
    const req = request(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      open++
      if (open === subscribers) send({ ready: true })
      res.setEncoding('utf8')
      let rest = ''
      res.on('data', (chunk: string) => {
        const at = now()
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) {
          if (!line.startsWith('data: ')) continue
          const t = Number(line.slice(6, line.indexOf('|')))
          if (!Number.isFinite(t)) continue
          received++
          latencies.push(at - t)
          if (firstAt === 0) firstAt = at
          lastAt = at
        }
      })
    })
    req.end()
  }
  process.on('message', (message: { report?: boolean; reset?: boolean }) => {
    if (message.reset) {
      latencies = []
      received = 0
      firstAt = 0
      lastAt = 0
    }
    if (message.report) {
      const sorted = Float64Array.from(latencies).sort()
      const at = (q: number): number =>
        sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
      send({ summary: { received, p50: at(0.5), p99: at(0.99), firstAt, lastAt } satisfies Summary })
    }
  })
  const timer = setInterval(() => send({ received }), 20)
  process.on('disconnect', () => {
    clearInterval(timer)
    process.exit(0)
  })
} else {
  const redis = await RedisServer.start()
  const results: { name: string; phase: string; p50: number; p99: number; perSecond: number }[] = []
  try {
    const setups = [
      { name: '1 hub, memory broker', hubs: 1, redis: false },
      { name: '2 hubs, one Redis', hubs: 2, redis: true },
    ]
    for (const setup of Array.from({ length: rounds }, () => setups).flat()) {
      await redis.flushAll()
      const hubs = await Promise.all(
        Array.from({ length: setup.hubs }, () => startHub(setup.redis ? ['--redis', redis.url] : [])),
      )
      try {
        const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), {
          env: {
            ...process.env,
            REDIS_BENCH_CHILD: hubs.map((hub) => `${hub.url}events?channel=bench`).join(' '),
          },
          execArgv: process.execArgv,
        })
        let received = 0
        let ready = false
        let summary: Summary | undefined
        child.on('message', (message: { ready?: boolean; received?: number; summary?: Summary }) => {
          if (message.ready) ready = true
          if (message.received !== undefined) received = message.received
          if (message.summary !== undefined) summary = message.summary
        })
        await until(() => ready, 60_000, `${setup.name}: subscribers connected`)
        await sleep(300)
        const report = async (): Promise<Summary> => {
          summary = undefined
          child.send({ report: true })
          await until(() => summary !== undefined, 10_000, 'report')
          return summary as unknown as Summary
        }

        // Warm-up, not measured.
        const warm = await publishAtRate(hubs, rate, rate)
        await until(() => received >= warm * subscribers, 60_000, `${setup.name}: warm-up`)
        child.send({ reset: true })
        await sleep(200)
        received = 0

        // Phase 1: the same fixed publish rate for both setups.
        const total = rate * seconds
        const sent = await publishAtRate(hubs, total, rate)
        await until(() => received >= sent * subscribers, 60_000, `${setup.name}: fixed-rate deliveries`)
        const fixed = await report()
        results.push({
          name: setup.name,
          phase: `${rate} events/s`,
          p50: fixed.p50,
          p99: fixed.p99,
          perSecond: (fixed.received / (fixed.lastAt - fixed.firstAt)) * 1000,
        })

        // Phase 2: as fast as the subscribers drain, never more than 200 events ahead of them.
        child.send({ reset: true })
        await sleep(100)
        received = 0
        const burst = total * 2
        let published = 0
        const inFlight = new Set<Promise<void>>()
        while (published < burst) {
          while (inFlight.size < 32 && published < burst && received >= (published - 200) * subscribers) {
            const hub = hubs[published % hubs.length] as Hub
            const p: Promise<void> = publish(hub).then(() => {
              inFlight.delete(p)
            })
            inFlight.add(p)
            published++
          }
          await Promise.race([...inFlight, sleep(1)])
        }
        await Promise.all(inFlight)
        await until(() => received >= burst * subscribers, 120_000, `${setup.name}: max deliveries`)
        const max = await report()
        results.push({
          name: setup.name,
          phase: 'max',
          p50: max.p50,
          p99: max.p99,
          perSecond: (max.received / (max.lastAt - max.firstAt)) * 1000,
        })
        child.disconnect()
      } finally {
        for (const hub of hubs) await hub.stop()
      }
    }
  } finally {
    await redis.close()
  }

  console.log(
    `${subscribers} subscribers (split over the hubs), ${rate} events/s for ${seconds} s, then as fast as drained; ~${PAD.length + 20}-byte data; median of ${rounds} rounds`,
  )
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b)
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0
  }
  const rows = [...new Set(results.map((r) => `${r.name}\n${r.phase}`))].map((key) => {
    const [name = '', phase = ''] = key.split('\n')
    const mine = results.filter((r) => r.name === name && r.phase === phase)
    return {
      name,
      phase,
      p50: median(mine.map((r) => r.p50)),
      p99: median(mine.map((r) => r.p99)),
      perSecond: median(mine.map((r) => r.perSecond)),
    }
  })
  console.log(
    `${'setup'.padEnd(22)} ${'load'.padEnd(14)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'deliveries/s'.padStart(14)}`,
  )
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(22)} ${r.phase.padEnd(14)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${Math.round(r.perSecond).toLocaleString('en').padStart(14)}`,
    )
  }
  for (const phase of [`${rate} events/s`, 'max']) {
    const memory = rows.find((r) => r.phase === phase && r.name.includes('memory'))
    const redisRow = rows.find((r) => r.phase === phase && r.name.includes('Redis'))
    if (memory === undefined || redisRow === undefined) continue
    console.log(
      `ratio Redis/memory at ${phase}: p50 ${(redisRow.p50 / memory.p50).toFixed(1)}x, p99 ${(redisRow.p99 / memory.p99).toFixed(1)}x, deliveries/s ${(redisRow.perSecond / memory.perSecond).toFixed(2)}x`,
    )
  }
}

interface Hub {
  readonly url: string
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** `ssehub serve` from source, with limits that would throttle a benchmark turned off. */
async function startHub(extra: string[]): Promise<Hub> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@ssehub/source',
      'packages/hub/src/cli.ts',
      'serve',
      '--port',
      '0',
      '--no-demo',
      '--publish-rate',
      'off',
      '--max-connections-per-ip',
      'off',
      '--max-queue-events',
      '100000',
      '--max-queue-bytes',
      '67108864',
      ...extra,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } },
  )
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  await until(() => /listening on http:\/\/localhost:\d+/.test(out), 30_000, 'hub start')
  const port = /listening on http:\/\/localhost:(\d+)/.exec(out)?.[1]
  return {
    url: `http://127.0.0.1:${port}/`,
    child,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(10_000)])
      child.kill('SIGKILL')
    },
  }
}

function publish(hub: Hub): Promise<void> {
  return fetch(`${hub.url}publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'bench', data: `${now()}|${PAD}` }),
  }).then(async (response) => {
    await response.arrayBuffer()
    if (response.status !== 200) throw new Error(`publish answered ${response.status}`)
  })
}

/** Publishes `total` events at `perSecond`, round-robin over the hubs; resolves with the count. */
async function publishAtRate(hubs: readonly Hub[], total: number, perSecond: number): Promise<number> {
  const start = performance.now()
  const pending: Promise<void>[] = []
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond) + 1)
    for (; sent < due; sent++) pending.push(publish(hubs[sent % hubs.length] as Hub))
    await sleep(1)
  }
  await Promise.all(pending)
  return sent
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function until(check: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`)
    await sleep(5)
  }
}
