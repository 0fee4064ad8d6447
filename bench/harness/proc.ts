/**
 * Process and kernel sampling from /proc: server CPU time (utime + stime, every thread), resident
 * memory (VmRSS), kernel TCP socket memory (/proc/net/sockstat `mem`, in pages) and Slab
 * (/proc/meminfo). The kernel figures are machine-wide: on loopback they count both ends of every
 * connection (the load generator's sockets too), which the reports say next to the numbers.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** CPU time and parent of one process, from the text of `/proc/<pid>/stat`. */
export interface StatFields {
  ppid: number
  /** utime + stime, in clock ticks. */
  cpuTicks: number
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so the fields are counted from the last `)`.
 */
export function parseStat(text: string): StatFields {
  const close = text.lastIndexOf(')')
  if (close === -1) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`)
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/)
  // rest[0] is field 3 (state): ppid is field 4, utime field 14, stime field 15.
  const ppid = Number(rest[1])
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`unexpected /proc stat fields: ${text.slice(0, 120)}`)
  }
  return { ppid, cpuTicks: utime + stime }
}

/** VmRSS in kB from the text of `/proc/<pid>/status` (0 for a zombie, which has none). */
export function parseStatusRssKb(text: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text)
  return match ? Number(match[1]) : 0
}

/** The TCP `mem` figure (pages) of `/proc/net/sockstat`. */
export function parseSockstatTcpPages(text: string): number {
  const match = /^TCP:.*\bmem (\d+)/m.exec(text)
  if (!match) throw new Error('no TCP mem in /proc/net/sockstat')
  return Number(match[1])
}

/** One field of `/proc/meminfo`, in kB. */
export function parseMeminfoKb(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  if (!match) throw new Error(`no ${field} in /proc/meminfo`)
  return Number(match[1])
}

let clockTicks: number | undefined
let pageBytes: number | undefined

/** Clock ticks per second (`getconf CLK_TCK`). */
export function clockTicksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  return clockTicks
}

/** Page size in bytes (`getconf PAGESIZE`). */
export function pageSizeBytes(): number {
  pageBytes ??= Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim())
  return pageBytes
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * `roots` and all their descendants (a gunicorn master's workers, nginx's workers, a cluster's
 * workers), found by following parent ids through /proc; at most 6 generations.
 */
export function processTree(roots: readonly number[]): number[] {
  const members = new Set(roots.filter((pid) => readOrUndefined(`/proc/${pid}/stat`) !== undefined))
  const parents = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const text = readOrUndefined(`/proc/${name}/stat`)
    if (text === undefined) continue
    try {
      parents.set(Number(name), parseStat(text).ppid)
    } catch {
      // a process that vanished mid-read
    }
  }
  for (let generation = 0; generation < 6; generation++) {
    let added = false
    for (const [pid, ppid] of parents) {
      if (!members.has(pid) && members.has(ppid)) {
        members.add(pid)
        added = true
      }
    }
    if (!added) break
  }
  return [...members].sort((a, b) => a - b)
}

/** CPU and memory of a set of processes at one moment. */
export interface ProcessSample {
  /** When, from `performance.now()`, in ms. */
  atMs: number
  /** Sum of utime + stime over the processes, in seconds. */
  cpuS: number
  /** Sum of VmRSS over the processes, in kB. */
  rssKb: number
  pids: number[]
}

/** Samples CPU time and RSS of `pids` (processes that have exited are left out). */
export function sampleProcesses(pids: readonly number[]): ProcessSample {
  let ticks = 0
  let rssKb = 0
  const alive: number[] = []
  for (const pid of pids) {
    const stat = readOrUndefined(`/proc/${pid}/stat`)
    const status = readOrUndefined(`/proc/${pid}/status`)
    if (stat === undefined || status === undefined) continue
    ticks += parseStat(stat).cpuTicks
    rssKb += parseStatusRssKb(status)
    alive.push(pid)
  }
  return { atMs: performance.now(), cpuS: ticks / clockTicksPerSecond(), rssKb, pids: alive }
}

/** Machine-wide kernel memory that grows with TCP connections. */
export interface KernelSample {
  /** /proc/net/sockstat TCP `mem`, converted to kB. */
  tcpMemKb: number
  /** /proc/meminfo Slab, in kB. */
  slabKb: number
}

/** Samples kernel socket memory and Slab. */
export function sampleKernel(): KernelSample {
  const pages = parseSockstatTcpPages(readFileSync('/proc/net/sockstat', 'utf8'))
  return {
    tcpMemKb: (pages * pageSizeBytes()) / 1024,
    slabKb: parseMeminfoKb(readFileSync('/proc/meminfo', 'utf8'), 'Slab'),
  }
}

/** The number of online CPUs the harness may use. */
export function onlineCpus(): number {
  return Number(execFileSync('getconf', ['_NPROCESSORS_ONLN'], { encoding: 'utf8' }).trim())
}
