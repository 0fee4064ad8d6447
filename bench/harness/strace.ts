/**
 * Syscall counting for S4: `strace -c -f -p <pid>...` attached to the running server for a fixed
 * window, then interrupted; its summary table gives the calls per syscall. strace slows the traced
 * process a lot, so S4 takes its CPU figures from a separate run without strace.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Syscalls that write to a socket: what "write-family" counts. */
export const WRITE_FAMILY: ReadonlySet<string> = new Set([
  'write',
  'writev',
  'pwrite64',
  'pwritev',
  'pwritev2',
  'send',
  'sendto',
  'sendmsg',
  'sendmmsg',
  'sendfile',
  'io_uring_enter',
])

/** Calls per syscall from one `strace -c` summary. */
export interface SyscallCounts {
  calls: Record<string, number>
  total: number
  writes: number
}

/**
 * Parses the summary table of `strace -c`: rows of `% time, seconds, usecs/call, calls, [errors],
 * syscall`, between dashed rules; the `total` row is recomputed rather than trusted.
 */
export function parseStraceSummary(text: string): SyscallCounts {
  const calls: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/)
    if (tokens.length < 5 || tokens.length > 6) continue
    const name = tokens[tokens.length - 1] as string
    if (name === 'total' || name === 'syscall' || !/^[\d.]+$/.test(tokens[0] as string)) continue
    const count = Number(tokens[3])
    if (!Number.isInteger(count)) continue
    calls[name] = (calls[name] ?? 0) + count
  }
  let total = 0
  let writes = 0
  for (const [name, count] of Object.entries(calls)) {
    total += count
    if (WRITE_FAMILY.has(name)) writes += count
  }
  return { calls, total, writes }
}

/** A running `strace -c` attachment. */
export interface StraceSession {
  /** Resolves once strace has attached (its "attached" notices or a short delay). */
  attached: Promise<void>
  /** Detaches (SIGINT) and resolves with the counts; bounded by `timeoutMs`. */
  stop(timeoutMs?: number): Promise<SyscallCounts>
}

/** Attaches `strace -c -f` to `pids`. */
export function attachStrace(pids: readonly number[]): StraceSession {
  if (pids.length === 0) throw new Error('strace: no pids to attach to')
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-strace-'))
  const out = join(dir, 'summary.txt')
  const child = spawn('strace', ['-c', '-f', '-o', out, ...pids.flatMap((pid) => ['-p', String(pid)])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const attached = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 1500)
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000)
      // strace prints "Process N attached" per traced task (threads included with -f).
      if (stderr.includes('attached')) {
        clearTimeout(timer)
        setTimeout(resolve, 100)
      }
    })
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    void exited.then(() => {
      clearTimeout(timer)
      if (!stderr.includes('attached')) reject(new Error(`strace exited before attaching: ${stderr.trim()}`))
    })
  })
  return {
    attached,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null) child.kill('SIGINT')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
      try {
        return parseStraceSummary(readFileSync(out, 'utf8'))
      } catch (error) {
        throw new Error(`strace wrote no summary: ${stderr.trim().slice(-400)}`, { cause: error })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
