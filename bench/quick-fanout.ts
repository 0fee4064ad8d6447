/**
 * Quick fan-out measurement (issue 2): N subscribers on one channel, events published as fast as
 * the subscribers drain them. ssehub (core hub + node adapter) and a plain node:http SSE baseline
 * run side by side in the same process run, one after the other, each with its subscribers in a
 * separate child process, so the ratio is meaningful on a noisy machine.
 *
 *   npx tsx --conditions=@ssehub/source bench/quick-fanout.ts [subscribers=1000] [events=2000]
 *
 * Not a test: no assertions on speed. The full harness (C load generator, peers) is bench/'s job.
 */
import { fork } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHub } from '@ssehub/core'
import { createSseHandler } from '@ssehub/server/node'

const subscribers = Number(process.argv[2] ?? 1000)
const events = Number(process.argv[3] ?? 2000)
const payload = JSON.stringify({ text: 'x'.repeat(80) })

if (process.env.QUICK_FANOUT_CHILD) {
  // Subscriber process: open N streams, count events (blank-line terminated blocks with data).
  const { request } = await import('node:http')
  const url = new URL(process.env.QUICK_FANOUT_CHILD)
  let received = 0
  let open = 0
  // With a callback, a send racing the parent's disconnect reports EPIPE there instead of throwing.
  const send = (message: object): void => {
    if (process.connected) process.send?.(message, undefined, {}, () => {})
  }
  for (let i = 0; i < subscribers; i++) {
    const req = request(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      open++
      if (open === subscribers) send({ ready: true })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        let at = chunk.indexOf('data: ')
        while (at !== -1) {
          received++
          at = chunk.indexOf('data: ', at + 6)
        }
      })
    })
    req.end()
  }
  const timer = setInterval(() => send({ received }), 50)
  process.on('disconnect', () => {
    clearInterval(timer)
    process.exit(0)
  })
} else {
  const results: { name: string; seconds: number; perSecond: number; cpuMs: number }[] = []
  for (const name of ['baseline (plain node:http)', 'ssehub']) {
    const { server, publish } = name === 'ssehub' ? ssehubServer() : baselineServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const child = fork(new URL(import.meta.url).pathname, process.argv.slice(2), {
      env: { ...process.env, QUICK_FANOUT_CHILD: `http://127.0.0.1:${port}/events?channel=bench` },
      execArgv: process.execArgv,
    })
    let received = 0
    let ready = false
    child.on('message', (message: { ready?: boolean; received?: number }) => {
      if (message.ready) ready = true
      if (message.received !== undefined) received = message.received
    })
    const deadline = Date.now() + 60_000
    while (!ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (!ready) throw new Error(`${name}: subscribers did not connect`)
    await new Promise((r) => setTimeout(r, 200))
    const expected = subscribers * events
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    // Publish in batches, never more than 100 events ahead of the slowest-counted delivery.
    for (let i = 0; i < events; i++) {
      publish(i)
      if (i % 50 === 49) {
        while (received < (i - 100) * subscribers && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1))
        }
      }
    }
    while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    const seconds = (performance.now() - start) / 1000
    const cpu = process.cpuUsage(cpu0)
    if (received < expected) throw new Error(`${name}: ${received} of ${expected} deliveries`)
    results.push({ name, seconds, perSecond: expected / seconds, cpuMs: (cpu.user + cpu.system) / 1000 })
    child.disconnect()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  const [base, ours] = results
  console.log(`${subscribers} subscribers x ${events} events (~${payload.length}-byte data)`)
  for (const r of results) {
    console.log(
      `${r.name.padEnd(28)} ${Math.round(r.perSecond).toLocaleString('en').padStart(12)} deliveries/s` +
        `  ${((r.cpuMs * 1000) / (subscribers * events)).toFixed(2)} server CPU-µs/delivery`,
    )
  }
  if (base && ours) {
    console.log(`ratio ssehub/baseline throughput: ${(ours.perSecond / base.perSecond).toFixed(2)}x`)
    console.log(`ratio ssehub/baseline CPU per delivery: ${(ours.cpuMs / base.cpuMs).toFixed(2)}x`)
  }
}

function ssehubServer(): { server: Server; publish: (i: number) => void } {
  const hub = createHub({ heartbeatMs: 15_000, maxQueueEvents: 100_000, maxQueueBytes: 64 * 1024 * 1024 })
  const handler = createSseHandler(hub)
  const server = createServer(handler)
  return { server, publish: (i) => void hub.publish('bench', payload, { event: `e${i % 2}` }) }
}

function baselineServer(): { server: Server; publish: (i: number) => void } {
  const clients = new Set<ServerResponse>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.flushHeaders()
    clients.add(res)
    req.on('close', () => clients.delete(res))
  })
  let seq = 0
  return {
    server,
    publish: (i) => {
      const text = `event: e${i % 2}\nid: ${++seq}\ndata: ${payload}\n\n`
      for (const res of clients) res.write(text)
    },
  }
}
