/**
 * What every peer needs to run a server for the benchmark: spawn it as its own process group
 * (under taskset when asked), wait until it answers a real SSE subscribe, find its processes in
 * /proc (masters and workers), and stop the whole group within a bound.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { which as findBinary, killOnExit } from '@ssehub/testkit'
import type { RunningPeer } from './types.js'

/** The repository root (bench/peers/ is two levels below it). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Looks a binary up on PATH (and the usual sbin folders, where Debian puts nginx). */
export function which(binary: string): string | undefined {
  return findBinary(binary, ['/usr/sbin', '/sbin', '/usr/local/sbin'])
}

/** The hard RLIMIT_NOFILE of this process (what children may raise their soft limit to). */
export function hardFdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((row) => row.startsWith('Max open files'))
  const hard = line?.trim().split(/\s+/)[4]
  if (hard === 'unlimited') return 1_048_576
  const value = Number(hard)
  return Number.isSafeInteger(value) && value > 0 ? value : 1024
}

const OUTPUT_LIMIT = 64 * 1024

/** Keeps the last `limit` characters of a stream's text (every buffer is bounded). */
function tail(text: string, chunk: string, limit = OUTPUT_LIMIT): string {
  const joined = text + chunk
  return joined.length > limit ? joined.slice(joined.length - limit) : joined
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  /** The last 64 KB of stdout and stderr, interleaved. */
  output: string
}

/** Runs a command to completion (killed after `timeoutMs`), with its output's tail. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const collect = (chunk: Buffer): void => {
      output = tail(output, chunk.toString('utf8'))
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    const timer = setTimeout(() => {
      output = tail(output, `\n[killed after ${options.timeoutMs} ms]\n`)
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output })
    })
  })
}

interface ProcInfo {
  pid: number
  ppid: number
  pgid: number
  state: string
}

/** Every process in /proc with its parent, group and state (zombies included, marked Z). */
function processTable(): ProcInfo[] {
  const table: ProcInfo[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    table.push({
      pid: Number(name),
      state: fields[0] ?? '?',
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
    })
  }
  return table
}

/**
 * The live (non-zombie) processes of the servers whose leaders are `roots`: the leaders, the
 * members of their process groups (orphaned workers included), and all their descendants.
 */
export function processTree(roots: readonly number[]): number[] {
  const table = processTable()
  const leaders = new Set(roots)
  const children = new Map<number, number[]>()
  for (const info of table) {
    const list = children.get(info.ppid)
    if (list === undefined) children.set(info.ppid, [info.pid])
    else list.push(info.pid)
  }
  const live = new Set(table.filter((info) => info.state !== 'Z').map((info) => info.pid))
  const seen = new Set<number>()
  const queue = [...roots, ...table.filter((info) => leaders.has(info.pgid)).map((info) => info.pid)].filter(
    (pid) => live.has(pid),
  )
  while (queue.length > 0) {
    const pid = queue.shift() as number
    if (seen.has(pid)) continue
    seen.add(pid)
    for (const child of children.get(pid) ?? []) if (live.has(child)) queue.push(child)
  }
  return [...seen].sort((a, b) => a - b)
}

/** The live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return processTable()
    .filter((info) => info.pgid === pgid && info.state !== 'Z')
    .map((info) => info.pid)
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Never leave a server behind when the harness or a test dies: SIGKILL the groups on exit. */
const live = killOnExit<ServerGroup>((running) => running.kill('SIGKILL'))

/** How {@link ServerGroup.spawn} runs a server: `cpus` is a taskset CPU list, `logFile` takes its output. */
export interface ServerSpawnOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  cpus?: string | undefined
  logFile: string
}

/** One spawned server: the leader of its own process group, its output in a log file. */
export class ServerGroup {
  readonly pid: number
  readonly logFile: string
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  readonly #exited: Promise<void>

  private constructor(child: ChildProcess, logFile: string) {
    if (child.pid === undefined) throw new Error(`could not spawn ${child.spawnfile}`)
    this.pid = child.pid
    this.logFile = logFile
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal }
        resolve()
      })
    })
  }

  /**
   * Spawns `command` detached (a new session and process group), under `taskset -c cpus` when
   * given (taskset execs the command, so the pid is the server's), stdout and stderr to `logFile`.
   */
  static spawn(command: string, args: readonly string[], options: ServerSpawnOptions): ServerGroup {
    let file = command
    let argv = [...args]
    if (options.cpus !== undefined) {
      const taskset = which('taskset')
      if (taskset === undefined) throw new Error('cpus given but taskset is not on PATH (Debian: util-linux)')
      file = taskset
      argv = ['-c', options.cpus, command, ...args]
    }
    const fd = openSync(options.logFile, 'a')
    try {
      const child = spawn(file, argv, {
        cwd: options.cwd ?? REPO_ROOT,
        env: options.env ?? process.env,
        detached: true,
        stdio: ['ignore', fd, fd],
      })
      // An error event (ENOENT) comes after spawn returns; the exit handler sees it as an exit.
      child.once('error', () => {})
      const group = new ServerGroup(child, options.logFile)
      live.add(group)
      child.unref()
      return group
    } finally {
      closeSync(fd)
    }
  }

  /** Set once the leader has exited. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.#exit
  }

  /** The last `bytes` of the log, for error messages. */
  logTail(bytes = 4000): string {
    try {
      const text = readFileSync(this.logFile, 'utf8')
      return text.slice(Math.max(0, text.length - bytes)).trim()
    } catch {
      return ''
    }
  }

  /** Sends `signal` to the whole group (ESRCH, a group already gone, is fine). */
  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal)
    } catch {
      // gone
    }
  }

  /**
   * SIGTERM to the group, SIGKILL to what is left after `graceMs`, and waits (bounded) until no
   * member of the group is alive and the leader has been reaped.
   */
  async stop(graceMs = 5000, killMs = 3000): Promise<void> {
    this.kill('SIGTERM')
    if (!(await this.#waitGone(graceMs))) {
      this.kill('SIGKILL')
      if (!(await this.#waitGone(killMs))) {
        live.delete(this)
        throw new Error(
          `process group ${this.pid} still alive after SIGKILL: ${groupMembers(this.pid).join(' ')}`,
        )
      }
    }
    live.delete(this)
  }

  async #waitGone(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    for (;;) {
      if (this.#exit !== undefined && groupMembers(this.pid).length === 0) return true
      if (Date.now() > deadline) return false
      await Promise.race([this.#exited, delay(20)])
      await delay(10)
    }
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A fresh temporary folder for one running peer (logs, generated configs). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ssehub-bench-${prefix}-`))
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/**
 * One SSE subscribe as the load generator sends it (HTTP/1.1 GET, `Accept: text/event-stream`):
 * resolves with the status and content type once the response headers arrive, then hangs up.
 */
export function probeSse(
  target: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; contentType: string }> {
  const [host, port] = splitTarget(target)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        method: 'GET',
        agent: false,
        headers: { accept: 'text/event-stream', 'cache-control': 'no-cache' },
      },
      (res) => {
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? '') })
        req.destroy()
      },
    )
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response headers within ${timeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}

export function splitTarget(target: string): [string, number] {
  const at = target.lastIndexOf(':')
  return [target.slice(0, at), Number(target.slice(at + 1))]
}

/**
 * Waits until every target answers an SSE subscribe with 200 `text/event-stream`, and until the
 * groups hold at least `processes` live processes (masters plus forked workers), failing early
 * (with the log's tail) when a server exits, and after `timeoutMs` at the latest.
 */
export async function waitUntilServing(
  name: string,
  groups: readonly ServerGroup[],
  targets: readonly string[],
  path: string,
  options: { timeoutMs: number; processes: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  const failed = (reason: string): Error => {
    const logs = groups
      .map((group) => group.logTail())
      .filter((text) => text !== '')
      .join('\n---\n')
    return new Error(`${name}: ${reason}${logs === '' ? '' : `\n${logs}`}`)
  }
  const pending = new Set(targets)
  let last = ''
  for (;;) {
    const dead = groups.find((group) => group.exit !== undefined)
    if (dead !== undefined) {
      throw failed(`server exited (code ${dead.exit?.code}, signal ${dead.exit?.signal}) before serving`)
    }
    for (const target of [...pending]) {
      try {
        const answer = await probeSse(target, path, Math.max(100, Math.min(2000, deadline - Date.now())))
        if (answer.status === 200 && answer.contentType.startsWith('text/event-stream'))
          pending.delete(target)
        else last = `GET ${target}${path} answered ${answer.status} ${answer.contentType}`
      } catch (error) {
        last = `GET ${target}${path}: ${(error as Error).message}`
      }
    }
    const count = processTree(groups.map((group) => group.pid)).length
    if (pending.size === 0 && count >= options.processes) return
    if (Date.now() > deadline) {
      throw failed(
        pending.size > 0
          ? `not serving within ${options.timeoutMs} ms (${last})`
          : `${count} of ${options.processes} processes up after ${options.timeoutMs} ms`,
      )
    }
    await delay(50)
  }
}

/** One server process group of a peer: the arguments of {@link ServerGroup.spawn}. */
export interface ServerSpawn {
  command: string
  args: readonly string[]
  options: ServerSpawnOptions
}

/**
 * The start-up every peer shares: spawns `servers` process groups (default 1) on consecutive
 * ports from `port` on (`spawn(port)` says how), waits until every one serves an SSE subscribe on
 * channel 0 and at least `processes` processes are up (see {@link waitUntilServing}), and returns
 * the running peer. Publishes go to the first port: `POST publish.path` with `publish.body`
 * (default `{data}`, the raw event data) as `publish.contentType` (default text/plain). When a
 * step fails, what was started is stopped and `dir` removed before the error is rethrown.
 */
export async function startServers(spec: {
  name: string
  dir: string
  port: number
  servers?: number
  spawn: (port: number) => ServerSpawn
  /** With %c for the channel index. */
  subscribePath: string
  publish: { path: string; body?: string; contentType?: string }
  timeoutMs: number
  processes: number
}): Promise<RunningPeer> {
  const groups: ServerGroup[] = []
  const targets: string[] = []
  try {
    for (let i = 0; i < (spec.servers ?? 1); i++) {
      const port = spec.port + i
      targets.push(`127.0.0.1:${port}`)
      const server = spec.spawn(port)
      groups.push(ServerGroup.spawn(server.command, server.args, server.options))
    }
    await waitUntilServing(spec.name, groups, targets, spec.subscribePath.replace('%c', '0'), {
      timeoutMs: spec.timeoutMs,
      processes: spec.processes,
    })
    return runningPeer({
      name: spec.name,
      groups,
      dir: spec.dir,
      targets,
      subscribePath: spec.subscribePath,
      publish: {
        target: targets[0] as string,
        method: 'POST',
        path: spec.publish.path,
        body: spec.publish.body ?? '{data}',
        contentType: spec.publish.contentType ?? 'text/plain',
      },
    })
  } catch (error) {
    return abandon(groups, spec.dir, error)
  }
}

/**
 * The running-peer object shared by every peer: pids walked from the group leaders at each call,
 * stop() stopping every group in parallel, then removing the temp folder.
 */
function runningPeer(spec: {
  name: string
  groups: ServerGroup[]
  dir: string
  targets: string[]
  subscribePath: string
  publish: RunningPeer['publish']
}): RunningPeer {
  let stopping: Promise<void> | undefined
  return {
    name: spec.name,
    targets: spec.targets,
    subscribePath: spec.subscribePath,
    publish: spec.publish,
    pids: () => processTree(spec.groups.map((group) => group.pid)),
    stop: () => {
      stopping ??= (async () => {
        const results = await Promise.allSettled(spec.groups.map((group) => group.stop()))
        const failure = results.find((result) => result.status === 'rejected')
        if (failure !== undefined) throw (failure as PromiseRejectedResult).reason
        removeDir(spec.dir)
      })()
      return stopping
    },
  }
}

/**
 * When a step of start() fails: stops the groups started so far, removes the temp folder (the
 * error already carries the logs' tails), then rethrows.
 */
async function abandon(groups: readonly ServerGroup[], dir: string, error: unknown): Promise<never> {
  await Promise.allSettled(groups.map((group) => group.stop(2000, 2000)))
  removeDir(dir)
  throw error
}

export function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  const result = value ?? fallback
  if (!Number.isSafeInteger(result) || result < 1) throw new Error(`${what} must be a positive integer`)
  return result
}

/**
 * `apt-get install` of Debian packages (noninteractive); `apt-get update` and a second attempt
 * only when the first fails (stale package lists). Needs root.
 */
export async function aptInstall(packages: readonly string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = (): Promise<RunResult> =>
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
      env,
      timeoutMs: 600_000,
    })
  let result = await install()
  if (result.code === 0) return
  const update = await run('apt-get', ['update', '-q'], { env, timeoutMs: 600_000 })
  if (update.code !== 0) throw new Error(`apt-get update failed (exit ${update.code}):\n${update.output}`)
  result = await install()
  if (result.code !== 0) {
    throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${result.code}):\n${result.output}`)
  }
}

/** Installed version of a Debian package, or undefined. */
export async function debianVersion(name: string): Promise<string | undefined> {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
    const result = await run('dpkg-query', ['-W', '-f=${Version}', name], { timeoutMs: 10_000 })
    return result.code === 0 && result.output.trim() !== '' ? result.output.trim() : undefined
  } catch {
    return undefined
  }
}
