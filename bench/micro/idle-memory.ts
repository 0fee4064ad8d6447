/**
 * S1 micro benchmark (issue 7): user-space memory per idle SSE connection in the server process.
 *
 * For each server kind (bench/micro/server.ts: by default `ssehub`, the hub exactly as
 * `ssehub serve` runs it with its defaults, and `node-http`, a plain `node:http` SSE server, the
 * baseline), in the same run, each in a child with `--expose-gc`, clients in other processes,
 * each stream from its own loopback source address (`MICRO_PER_ADDRESS`, default 1), as clients
 * of a public hub come:
 *
 * - `ramp`: open `warm` streams, measure RSS after GC, open `conns` more, measure again; per
 *   connection = the difference / `conns` (the warm-up absorbs one-time costs: JIT code, pools).
 *   Right after the ramp, this counts what V8's young generation grew by while the streams
 *   opened (up to 32 MiB, given back once the process is quiet).
 * - `idle`: the same, but each measurement waits (no forced GC meanwhile) until V8 has shrunk its
 *   young generation back, as its memory reducer does by itself about 10 s after the process has
 *   gone quiet: what each idle connection holds.
 *
 * Repeated `rounds` times (the order of kinds alternates); medians, with the ratio to node-http.
 * `MICRO_MODE=ramp|idle|both` (default both), `MICRO_KINDS`, `MICRO_VERBOSE=1` (breakdown by V8
 * space and mapping), `MICRO_SNAPSHOT=<dir>` (heap snapshots for bench/micro/heap-summary.ts).
 *
 *   npx tsc -b && node --import tsx --conditions=@ssehub/source bench/micro/idle-memory.ts [conns=5000] [rounds=3]
 */
import { median, startClient, startServer } from './procs.js'

const conns = Number(process.argv[2] ?? 5000)
const rounds = Number(process.argv[3] ?? 3)
// Past 1,000: Node's pool of HTTP parsers is full before the first measurement. `MICRO_WARM`:
// more, e.g. 5000, brings V8's young generation to its largest size before the measured ramp.
const warm = Number(process.env.MICRO_WARM ?? 1500)
const kinds = (process.env.MICRO_KINDS ?? 'node-http,ssehub').split(',')
const modes =
  (process.env.MICRO_MODE ?? 'both') === 'both' ? ['ramp', 'idle'] : [process.env.MICRO_MODE as string]
// Streams per client source address: 1 (the default) is a public hub, each client its own address
// (and, for ssehub, its own `--max-connections-per-ip` counter); past 256 the default limit refuses.
const perAddress = Number(process.env.MICRO_PER_ADDRESS ?? 1)
// A folder: write heap snapshots there too (they distort the RSS numbers of that run).
const snapshots = process.env.MICRO_SNAPSHOT

interface Measure {
  rssKb: number
  heapUsed: number
  heapTotal: number
  external: number
  /** Resident kB by mapping: malloc's main heap, other anonymous memory, files. */
  brk: number
  anon: number
  file: number
  /** Physical bytes of each V8 heap space. */
  spaces: Record<string, number>
  waitedMs: number
}

async function once(kind: string, mode: string): Promise<{ rssPerConn: number; heapPerConn: number }> {
  const server = await startServer(kind)
  const warmClient = await startClient()
  const client = await startClient()
  const idle = mode === 'idle'
  try {
    await warmClient.ask({ cmd: 'connect', port: server.port, conns: warm, channels: 10, perAddress })
    const before = await server.ask<Measure>({ cmd: 'measure', idle })
    if (snapshots !== undefined) {
      await server.ask({ cmd: 'snapshot', file: `${snapshots}/${kind}-before.heapsnapshot` }, 300_000)
      // The snapshot's own garbage must not count in the RSS measured next.
      await server.ask<Measure>({ cmd: 'measure' })
    }
    // Other addresses than the warm-up's: every measured stream adds its own per-address state.
    const addressOffset = Math.ceil(warm / Math.max(perAddress, 1))
    await client.ask({ cmd: 'connect', port: server.port, conns, channels: 10, perAddress, addressOffset })
    const after = await server.ask<Measure>({ cmd: 'measure', idle })
    if (process.env.MICRO_VERBOSE === '1') {
      const per = (key: 'rssKb' | 'heapUsed' | 'brk' | 'anon' | 'file', scale = 1): string =>
        (((after[key] - before[key]) * scale) / conns).toFixed(0)
      const spaces = Object.keys(after.spaces)
        .map((name) => [name, ((after.spaces[name] ?? 0) - (before.spaces[name] ?? 0)) / conns] as const)
        .filter(([, bytes]) => Math.abs(bytes) >= 1)
        .map(([name, bytes]) => `${name} ${bytes.toFixed(0)}`)
        .join(' ')
      console.error(
        `  ${kind} ${mode} per conn: rss ${per('rssKb', 1024)} (malloc heap ${per('brk', 1024)} anon ${per('anon', 1024)} files ${per('file', 1024)}) heapUsed ${per('heapUsed')}; V8 physical: ${spaces}; young generation ${(before.spaces.new_space ?? 0) >> 10} -> ${(after.spaces.new_space ?? 0) >> 10} KiB; waited ${before.waitedMs} + ${after.waitedMs} ms`,
      )
    }
    if (snapshots !== undefined) {
      // Heap snapshots after the warm-up and after the measured streams, for
      // `bench/micro/heap-summary.ts <after> 40 <before> <conns>` (what each idle stream holds).
      await server.ask({ cmd: 'snapshot', file: `${snapshots}/${kind}-after.heapsnapshot` }, 300_000)
    }
    return {
      rssPerConn: ((after.rssKb - before.rssKb) * 1024) / conns,
      heapPerConn: (after.heapUsed - before.heapUsed) / conns,
    }
  } finally {
    client.stop()
    warmClient.stop()
    server.stop()
  }
}

const results: Record<string, { rss: number[]; heap: number[] }> = {}
for (let round = 0; round < rounds; round++) {
  // Alternate the order so neither kind always runs on a warmer (or busier) machine.
  const order = round % 2 === 0 ? kinds : [...kinds].reverse()
  for (const kind of order) {
    for (const mode of modes) {
      const key = `${kind} ${mode}`
      const { rssPerConn, heapPerConn } = await once(kind, mode)
      const entry = results[key] ?? { rss: [], heap: [] }
      results[key] = entry
      entry.rss.push(rssPerConn)
      entry.heap.push(heapPerConn)
      console.error(
        `round ${round + 1} ${key}: ${rssPerConn.toFixed(0)} B RSS/conn, ${heapPerConn.toFixed(0)} B heap/conn`,
      )
    }
  }
}
console.log(
  `idle memory, ${conns} connections (+${warm} warm-up, ${perAddress} per source address), median of ${rounds}:`,
)
for (const mode of modes) {
  const baseline = median(results[`node-http ${mode}`]?.rss ?? [Number.NaN])
  for (const kind of kinds) {
    const entry = results[`${kind} ${mode}`] as { rss: number[]; heap: number[] }
    const rss = median(entry.rss)
    console.log(
      `  ${mode.padEnd(4)} ${kind.padEnd(12)} ${(rss / 1024).toFixed(2)} KB RSS/conn (${entry.rss.map((x) => (x / 1024).toFixed(2)).join(' ')})  ${(median(entry.heap) / 1024).toFixed(2)} KB JS heap/conn  ratio to node-http ${(rss / baseline).toFixed(2)}`,
    )
  }
}
