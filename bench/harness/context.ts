/**
 * What every scenario shares: the parsed options, the progress display, the load generator, CPU
 * pinning, free ports, one private Redis, and the point runner (each run validated, retried once,
 * recorded as invalid with its reasons if the retry fails too).
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import type { Peer, PeerStartOptions, RunningPeer } from '../peers/types.js'
import type { LoadGenerator } from './load-types.js'
import { onlineCpus, processTree } from './proc.js'
import type { Progress } from './progress.js'
import { type PointRecord, type RunRecord, summarize } from './results.js'

/** Options of `npm run bench`. */
export interface BenchOptions {
  peers: readonly string[] | undefined
  runs: number
  /** Payload sizes to measure (both unless `--size`). */
  sizes: readonly number[]
  quick: boolean
  out: string
  /** S8 soak length, seconds. */
  durationS: number | undefined
  install: boolean
}

/** CPU placement: server on one core, load generator and publisher on another, when there are two. */
export interface Pinning {
  /** taskset list for single-process servers (undefined: no pinning). */
  server: string | undefined
  /** taskset list for multi-process servers: every core. */
  spread: string | undefined
  /** Where the load generator runs. */
  load: string | undefined
  cpus: number
}

/** Server on CPU 0, load on CPU 1 when 2+ cores; nothing pinned on one core. */
export function pinningFor(cpus: number): Pinning {
  if (cpus < 2) return { server: undefined, spread: undefined, load: undefined, cpus }
  return { server: '0', spread: `0-${cpus - 1}`, load: '1', cpus }
}

/** Result of one attempt at a run: metrics and the reasons it is invalid (empty when valid). */
export interface Attempt {
  metrics: Record<string, number | null>
  reasons: string[]
  detail?: Record<string, unknown>
}

/** What a scenario gets. */
export class BenchContext {
  readonly options: BenchOptions
  readonly progress: Progress
  readonly load: LoadGenerator
  readonly pinning: Pinning
  readonly #redis: { url?: string; pid?: number; stop?: () => Promise<void> } = {}
  readonly #startedPeers = new Set<RunningPeer>()

  constructor(options: BenchOptions, progress: Progress, load: LoadGenerator) {
    this.options = options
    this.progress = progress
    this.load = load
    this.pinning = pinningFor(onlineCpus())
  }

  /** Ports `base..base+count-1`, all free a moment ago on 127.0.0.1, below the ephemeral range. */
  async freePorts(count: number): Promise<number> {
    for (let attempt = 0; attempt < 60; attempt++) {
      const base = 20_000 + Math.floor(Math.random() * 12_000)
      let ok = true
      for (let i = 0; i < count && ok; i++) ok = await portFree(base + i)
      if (ok) return base
    }
    throw new Error(`no ${count} consecutive free ports found`)
  }

  /**
   * A private redis-server on a free port, started on first use (never the shared 6379, so other
   * users of that Redis neither see nor disturb benchmark traffic); pinned with the servers.
   */
  async redis(): Promise<{ url: string; pid: number }> {
    if (this.#redis.url !== undefined && this.#redis.pid !== undefined) {
      return { url: this.#redis.url, pid: this.#redis.pid }
    }
    const port = await this.freePorts(1)
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const cpus = this.pinning.spread
    const child =
      cpus === undefined
        ? spawn('redis-server', args, { stdio: 'ignore' })
        : spawn('taskset', ['-c', cpus, 'redis-server', ...args], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.once('error', () => {})
    const deadline = Date.now() + 10_000
    while (!(await portTaken(port))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`redis-server on port ${port} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const pid = child.pid ?? 0
    this.#redis.url = `redis://127.0.0.1:${port}`
    this.#redis.pid = pid
    this.#redis.stop = async () => {
      child.kill('SIGKILL')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    }
    return { url: this.#redis.url, pid }
  }

  /**
   * Starts `peer` (bounded), runs `body`, always stops it. Servers of one process are pinned to
   * the server core; several processes get every core (they could not scale on one).
   */
  async withPeer<T>(
    peer: Peer,
    options: Omit<PeerStartOptions, 'port' | 'cpus'>,
    body: (running: RunningPeer) => Promise<T>,
  ): Promise<T> {
    const processes = (options.processes ?? 1) * Math.max(1, options.workers ?? 1)
    const port = await this.freePorts(Math.max(1, options.processes ?? 1))
    const cpus = processes > 1 ? this.pinning.spread : this.pinning.server
    const start: PeerStartOptions = { ...options, port }
    if (start.redisUrl === undefined) {
      // Offered to every peer (Flask-SSE needs one); without redis-server only those peers fail.
      try {
        start.redisUrl = (await this.redis()).url
      } catch (error) {
        this.progress.log(`  warning: no private redis-server: ${String(error)}`)
      }
    }
    if (cpus !== undefined) start.cpus = cpus
    const running = await withDeadline(peer.start(start), 120_000, `${peer.name} start`)
    this.#startedPeers.add(running)
    try {
      return await body(running)
    } finally {
      this.#startedPeers.delete(running)
      await withDeadline(running.stop(), 60_000, `${peer.name} stop`).catch((error: unknown) => {
        this.progress.log(`  warning: ${peer.name} did not stop cleanly: ${String(error)}`)
      })
    }
  }

  /** Every server process of a running peer (its pids and their descendants). */
  serverPids(running: RunningPeer): number[] {
    return processTree(running.pids())
  }

  /**
   * Runs one point `runs` times. An invalid attempt is retried once; a second invalid attempt is
   * recorded as invalid with its reasons. An attempt that throws counts as invalid too.
   */
  async runPoint(
    base: Omit<PointRecord, 'runs' | 'summary' | 'status'>,
    runs: number,
    attempt: (run: number, retry: boolean) => Promise<Attempt>,
  ): Promise<PointRecord> {
    const records: RunRecord[] = []
    const kind = base.params.kind
    const name = typeof kind === 'string' ? `${base.row} [${kind}]` : base.row
    for (let run = 0; run < runs; run++) {
      let first: Attempt | undefined
      for (let tryIndex = 0; tryIndex < 2; tryIndex++) {
        let outcome: Attempt
        try {
          outcome = await attempt(run, tryIndex > 0)
        } catch (error) {
          outcome = {
            metrics: {},
            reasons: [`error: ${error instanceof Error ? error.message : String(error)}`],
          }
        }
        if (outcome.reasons.length === 0 || tryIndex === 1) {
          const record: RunRecord = {
            valid: outcome.reasons.length === 0,
            reasons: outcome.reasons,
            attempts: tryIndex + 1,
            metrics: outcome.metrics,
          }
          if (first !== undefined) record.firstAttemptReasons = first.reasons
          if (outcome.detail !== undefined) record.detail = outcome.detail
          records.push(record)
          break
        }
        first = outcome
        this.progress.log(
          `  ${base.peer} ${name} run ${run + 1}: invalid (${outcome.reasons.join('; ')}), retrying once`,
        )
      }
    }
    const valid = records.some((record) => record.valid)
    const point: PointRecord = {
      ...base,
      status: valid ? 'ok' : 'invalid',
      runs: records,
      summary: summarize(records),
    }
    const reasons = records.filter((record) => !record.valid).map((record) => record.reasons.join('; '))
    this.progress.log(
      `  ${base.peer.padEnd(10)} ${name}: ${valid ? 'ok' : 'INVALID'} (${records.filter((r) => r.valid).length}/${records.length} valid runs)${reasons.length > 0 ? ` — ${reasons[0]}` : ''}`,
    )
    return point
  }

  /** Stops anything still running (on interrupt or at the end). */
  async close(): Promise<void> {
    for (const running of this.#startedPeers)
      await withDeadline(running.stop(), 30_000, 'stop').catch(() => {})
    this.#startedPeers.clear()
    await this.#redis.stop?.()
  }
}

/** Rejects when `promise` has not settled within `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} did not finish within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function portTaken(port: number): Promise<boolean> {
  const { connect } = await import('node:net')
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
