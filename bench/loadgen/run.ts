/**
 * Typed wrappers around the C load generator (bench/loadgen/loadgen.c): build the argv from typed
 * options, spawn it (optionally pinned with `taskset -c`), stream its progress lines, parse the final
 * JSON line, and kill its whole process group when the deadline passes.
 *
 *   const sub = startSub({ targets, path, conns: 10_000, durationS: 60 }, { timeoutMs: 90_000 })
 *   await sub.ready                       // every connection has its response headers (or failed)
 *   const pub = await runPub({ target, path, mode: 'open', rate: 1000, durationS: 10 }, { timeoutMs: 30_000 })
 *   const result = await sub.result       // or sub.stop() to end it early and still get the result
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { killOnExit } from '@ssehub/testkit'
import { loadgenPath } from './build.js'

export interface SubOptions {
  /** HOST:PORT list (loopback only); connections spread round-robin. */
  targets: readonly string[]
  /** Request path; `%c` becomes the channel index. */
  path: string
  conns: number
  channels?: number
  /** Worker processes (default ceil(conns / 15000)). */
  procs?: number
  /** Source addresses, e.g. '127.0.0.2-127.0.0.17' (the default) or 'none'. */
  src?: string
  /** Extra request headers, 'Name: value'. */
  headers?: readonly string[]
  /** New connections per second overall (0 = all at once; default 5000). */
  connectRate?: number
  /** Hard upper bound of the run, seconds. */
  durationS: number
  untilEvents?: number
  stallFraction?: number
  lastEventId?: string
  reconnectAtS?: number
  recordIds?: string
  reportMs?: number
  /** A connection without response headers after this long counts as failed (default 30 s). */
  connectTimeoutS?: number
  /** taskset CPU list for the load generator, e.g. '1'. */
  cpus?: string
}

export interface SubProgress {
  t: number
  connected: number
  events: number
  gaps: number
  failed: number
  closed: number
  done: number
}

export interface SubReady {
  ready: true
  connected: number
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

export interface ReachAllSummary {
  count: number
  p50: number
  p99: number
  max: number
}

export type FailReason =
  | 'timeout'
  | 'refused'
  | 'reset'
  | 'addr'
  | 'files'
  | 'status'
  | 'protocol'
  | 'eof'
  | 'other'

/** The final line of `loadgen sub` (field names as in the bench contract), plus its exit code. */
export interface SubResult {
  mode: 'sub'
  conns: number
  connected: number
  failed: number
  closed_unexpected: number
  events: number
  other: number
  comments: number
  bytes: number
  gaps: number
  dups: number
  completed: number
  complete_s: number | null
  latency_us: LatencySummary
  reach_all_us: ReachAllSummary | null
  cpu_user_s: number
  cpu_sys_s: number
  wall_s: number
  saturated: boolean
  procs: number
  cpu_peak_util: number
  protocol_errors: number
  ids_truncated: number
  /** Why connection attempts failed; only non-zero reasons appear. */
  fail_reasons: Partial<Record<FailReason, number>>
  /** 0 for a completed run, 2 when no connection could be made. */
  exit_code: number
}

export interface PubOptions {
  target: string
  method?: string
  /** Path template: {c} channel, {s} seq, {data} the event data. */
  path: string
  /** Body template (default '{data}'). */
  body?: string
  contentType?: string
  headers?: readonly string[]
  size?: number
  channels?: number
  mode: 'closed' | 'open'
  /** Closed mode: requests in flight at most. */
  window?: number
  /** Keep-alive connections (pipelined). */
  conns?: number
  /** Open mode: requests per second. */
  rate?: number
  /** Open mode: requests back to back per tick (tick = burst / rate seconds). */
  burst?: number
  count?: number
  durationS?: number
  reportMs?: number
  /** How long to wait for outstanding responses after the last send (default 5 s). */
  drainS?: number
  cpus?: string
}

export interface PubProgress {
  t: number
  sent: number
  ok: number
  errors: number
  inflight: number
}

export interface PubResult {
  mode: 'pub'
  sent: number
  ok: number
  errors: number
  status: Record<string, number>
  rate: number
  wall_s: number
  cpu_user_s: number
  cpu_sys_s: number
  saturated: boolean
  dropped: number
  lost: number
  unanswered: number
  closed_unexpected: number
  reconnects: number
  protocol_errors: number
  exit_code: number
}

export interface SubHooks {
  onProgress?: (progress: SubProgress) => void
  onReady?: (ready: SubReady) => void
  /** The process group is killed (and the result rejected) after this long. */
  timeoutMs: number
}

export interface PubHooks {
  onProgress?: (progress: PubProgress) => void
  timeoutMs: number
}

export interface SubRun {
  /** The load generator's pid (its process group id) once spawned. */
  pid(): number | undefined
  /** Resolves with the `ready` line; rejects if the run ends first. */
  readonly ready: Promise<SubReady>
  /** Resolves with the final JSON line. */
  readonly result: Promise<SubResult>
  /** Ends the run early (SIGTERM: the load generator still reports) and returns the result. */
  stop(): Promise<SubResult>
  /** Kills the whole process group at once. */
  kill(): void
}

const STDOUT_LIMIT = 1 << 20
const LINE_LIMIT = 1 << 16
const STDERR_TAIL = 8192

/** Process groups still running, killed if this process exits first. */
const live = killOnExit<number>(killGroup)

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
  live.delete(pid)
}

function opt(args: string[], name: string, value: string | number | undefined): void {
  if (value !== undefined) args.push(name, String(value))
}

export function subArgs(o: SubOptions): string[] {
  const args = ['sub', '--target', o.targets.join(','), '--path', o.path, '--conns', String(o.conns)]
  opt(args, '--channels', o.channels)
  opt(args, '--procs', o.procs)
  opt(args, '--src', o.src)
  for (const header of o.headers ?? []) args.push('--header', header)
  opt(args, '--connect-rate', o.connectRate)
  opt(args, '--duration', o.durationS)
  opt(args, '--until-events', o.untilEvents)
  opt(args, '--stall-fraction', o.stallFraction)
  opt(args, '--last-event-id', o.lastEventId)
  opt(args, '--reconnect-at', o.reconnectAtS)
  opt(args, '--record-ids', o.recordIds)
  opt(args, '--report-ms', o.reportMs)
  opt(args, '--connect-timeout', o.connectTimeoutS)
  return args
}

export function pubArgs(o: PubOptions): string[] {
  const args = ['pub', '--target', o.target, '--path', o.path, '--mode', o.mode]
  opt(args, '--method', o.method)
  opt(args, '--body', o.body)
  opt(args, '--content-type', o.contentType)
  for (const header of o.headers ?? []) args.push('--header', header)
  opt(args, '--size', o.size)
  opt(args, '--channels', o.channels)
  opt(args, '--window', o.window)
  opt(args, '--conns', o.conns)
  opt(args, '--rate', o.rate)
  opt(args, '--burst', o.burst)
  opt(args, '--count', o.count)
  opt(args, '--duration', o.durationS)
  opt(args, '--report-ms', o.reportMs)
  opt(args, '--drain', o.drainS)
  return args
}

interface Spawned {
  child: ChildProcess
  /** Resolves with the parsed final line and the exit code. */
  done: Promise<{ final: Record<string, unknown>; code: number }>
}

function launch(
  binary: string,
  args: string[],
  cpus: string | undefined,
  timeoutMs: number,
  onLine: (line: Record<string, unknown>) => void,
): Spawned {
  const command = cpus === undefined ? binary : 'taskset'
  const argv = cpus === undefined ? args : ['-c', cpus, binary, ...args]
  const child = spawn(command, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid !== undefined) live.add(pid)
  let stdout = ''
  let stderrTail = ''
  let partial = ''
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    if (stdout.length < STDOUT_LIMIT) stdout += chunk.slice(0, STDOUT_LIMIT - stdout.length)
  })
  child.stderr?.on('data', (chunk: string) => {
    partial += chunk
    let newline = partial.indexOf('\n')
    while (newline !== -1) {
      const line = partial.slice(0, newline)
      partial = partial.slice(newline + 1)
      handleLine(line)
      newline = partial.indexOf('\n')
    }
    if (partial.length > LINE_LIMIT) {
      handleLine(partial)
      partial = ''
    }
  })
  function handleLine(line: string): void {
    if (line.startsWith('{')) {
      try {
        onLine(JSON.parse(line) as Record<string, unknown>)
        return
      } catch {
        // not a progress line: keep it as diagnostics
      }
    }
    stderrTail = `${stderrTail + line}\n`.slice(-STDERR_TAIL)
  }
  const done = new Promise<{ final: Record<string, unknown>; code: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (pid !== undefined) killGroup(pid)
      reject(new Error(`loadgen ${args[0]} did not finish within ${timeoutMs} ms (killed)\n${stderrTail}`))
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      if (pid !== undefined) live.delete(pid)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (pid !== undefined) live.delete(pid)
      const last = stdout.trim().split('\n').pop() ?? ''
      let final: Record<string, unknown> | undefined
      try {
        final = last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : undefined
      } catch {
        final = undefined
      }
      if (final === undefined || (code !== 0 && code !== 2)) {
        reject(
          new Error(
            `loadgen ${args[0]} failed (exit ${code ?? signal}): ${stderrTail.trim() || 'no output'}`,
          ),
        )
        return
      }
      resolve({ final, code: code ?? 0 })
    })
  })
  return { child, done }
}

/**
 * Starts `loadgen sub` (synchronously: the binary is built first, in the background); the harness
 * awaits `ready`, publishes, then awaits `result`.
 */
export function startSub(options: SubOptions, hooks: SubHooks): SubRun {
  let resolveReady: (ready: SubReady) => void = () => {}
  let rejectReady: (error: Error) => void = () => {}
  const ready = new Promise<SubReady>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  ready.catch(() => {}) // a caller that never awaits `ready` must not see an unhandled rejection
  let spawned: Spawned | undefined
  let cancelled: 'stop' | 'kill' | undefined
  const onLine = (line: Record<string, unknown>): void => {
    if (line.ready === true) {
      const event: SubReady = { ready: true, connected: Number(line.connected) }
      hooks.onReady?.(event)
      resolveReady(event)
    } else if (typeof line.t === 'number') {
      hooks.onProgress?.(line as unknown as SubProgress)
    }
  }
  const result = loadgenPath()
    .then((binary) => {
      if (cancelled !== undefined) throw new Error(`loadgen sub cancelled (${cancelled}) before it started`)
      spawned = launch(binary, subArgs(options), options.cpus, hooks.timeoutMs, onLine)
      return spawned.done
    })
    .then(
      ({ final, code }) => {
        rejectReady(new Error('loadgen sub ended before every connection was ready'))
        return { ...(final as unknown as SubResult), exit_code: code }
      },
      (error: unknown) => {
        rejectReady(error instanceof Error ? error : new Error(String(error)))
        throw error
      },
    )
  result.catch(() => {}) // the caller's await sees the rejection; nothing is left unhandled
  return {
    pid: () => spawned?.child.pid,
    ready,
    result,
    stop() {
      const child = spawned?.child
      if (child === undefined) cancelled = 'stop'
      else if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return result
    },
    kill() {
      const pid = spawned?.child.pid
      if (spawned === undefined) cancelled = 'kill'
      else if (pid !== undefined) killGroup(pid)
    },
  }
}

/** Runs `loadgen sub` to its end. */
export function runSub(options: SubOptions, hooks: SubHooks): Promise<SubResult> {
  return startSub(options, hooks).result
}

/** Runs `loadgen pub` to its end. */
export async function runPub(options: PubOptions, hooks: PubHooks): Promise<PubResult> {
  if (options.count === undefined && options.durationS === undefined) {
    throw new Error('runPub needs count and/or durationS')
  }
  const binary = await loadgenPath()
  const spawned = launch(binary, pubArgs(options), options.cpus, hooks.timeoutMs, (line) => {
    if (typeof line.t === 'number') hooks.onProgress?.(line as unknown as PubProgress)
  })
  const { final, code } = await spawned.done
  return { ...(final as unknown as PubResult), exit_code: code }
}
