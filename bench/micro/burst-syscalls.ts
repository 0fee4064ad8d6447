/**
 * S2/S4 micro benchmark (issue 7): server CPU and syscalls per delivery.
 *
 * For each server kind, in the same run: `subs` subscribers on channel c0 (separate client
 * process); the publisher sends `count` events in bursts of `burst` pipelined `POST /publish`
 * (one write per burst: several events per subscriber per event-loop turn when burst > 1).
 * Pass 1 measures server CPU (`process.cpuUsage()` of the server) per delivery; pass 2 repeats
 * under `strace -c -f -p <pid>` and counts the server's syscalls per delivery (strace slows the
 * server down, so its CPU is not used). Deliveries = events received by the subscribers.
 *
 *   node --import tsx --conditions=@ssehub/source bench/micro/burst-syscalls.ts [subs=1000] [count=400] [burst=8]
 *   MICRO_KINDS=node-http,core-response,core-socket,ssehub (default)
 */
import { spawn } from 'node:child_process'
import { median, startClient, startServer } from './procs.js'

const subs = Number(process.argv[2] ?? 1000)
const count = Number(process.argv[3] ?? 400)
const burst = Number(process.argv[4] ?? 8)
const rounds = Number(process.env.MICRO_ROUNDS ?? 3)
const kinds = (process.env.MICRO_KINDS ?? 'node-http,core-response,core-socket,ssehub').split(',')

interface Published {
  received: number
  expected: number
}

async function once(kind: string, traced: boolean): Promise<{ perDelivery: number; complete: boolean }> {
  const server = await startServer(kind, { MICRO_HEARTBEAT_MS: '600000' })
  const client = await startClient()
  try {
    await client.ask({ cmd: 'connect', port: server.port, conns: subs, channels: 1 })
    // Warm-up: JIT the delivery path before measuring.
    await client.ask({ cmd: 'publish', port: server.port, count: 50, burst, size: 100 })
    let strace: ReturnType<typeof spawn> | undefined
    let straceOut = ''
    if (traced) {
      strace = spawn('strace', ['-c', '-f', '-p', String(server.pid)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      strace.stderr?.on('data', (part: Buffer) => {
        straceOut += part.toString()
      })
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const cpu0 = (await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs
    const result = await client.ask<Published>({ cmd: 'publish', port: server.port, count, burst, size: 100 })
    const cpu1 = (await server.ask<{ cpuUs: number }>({ cmd: 'cpu' })).cpuUs
    const complete = result.received === result.expected
    if (strace !== undefined) {
      const exited = new Promise((resolve) => strace?.once('exit', resolve))
      strace.kill('SIGINT')
      await exited
      const total = /^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$/m.exec(straceOut)
      const calls = Number(total?.[1] ?? Number.NaN)
      // The two IPC round trips (cpu) are a handful of syscalls: negligible against thousands.
      return { perDelivery: calls / result.received, complete }
    }
    return { perDelivery: (cpu1 - cpu0) / result.received, complete }
  } finally {
    client.stop()
    server.stop()
  }
}

const cpu: Record<string, number[]> = {}
const sys: Record<string, number[]> = {}
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? kinds : [...kinds].reverse()
  for (const kind of order) {
    const a = await once(kind, false)
    const b = await once(kind, true)
    cpu[kind] = [...(cpu[kind] ?? []), a.perDelivery]
    sys[kind] = [...(sys[kind] ?? []), b.perDelivery]
    console.error(
      `round ${round + 1} ${kind}: ${a.perDelivery.toFixed(3)} CPU-µs/delivery, ${b.perDelivery.toFixed(3)} syscalls/delivery${a.complete && b.complete ? '' : ' (INCOMPLETE)'}`,
    )
  }
}
const base = median(cpu['node-http'] ?? [Number.NaN])
console.log(`${subs} subscribers, ${count} events in bursts of ${burst}, median of ${rounds}:`)
for (const kind of kinds) {
  const c = median(cpu[kind] as number[])
  console.log(
    `  ${kind.padEnd(14)} ${c.toFixed(3)} CPU-µs/delivery (${(c / base).toFixed(2)}x node-http)  ${median(sys[kind] as number[]).toFixed(3)} syscalls/delivery`,
  )
}
