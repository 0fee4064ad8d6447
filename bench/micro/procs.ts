/**
 * Process plumbing of the hot-path micro benchmarks: start a server kind or the client in a child
 * process, and ask either a question over IPC with a deadline.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url))
const TSX = ['--import', 'tsx', '--conditions=@ssehub/source']
/**
 * The server runs the built packages (`dist`, run `npx tsc -b` first), as in production: tsx
 * compiles with esbuild's `keepNames`, whose `__name(fn, ...)` gives every named closure its own
 * property dictionary (256 bytes each), which would count several hundred bytes per connection
 * that a production hub does not hold. `MICRO_SOURCE=1` runs the sources instead.
 */
const SERVER_ARGS = process.env.MICRO_SOURCE === '1' ? TSX : ['--import', 'tsx']

export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  ask<T>(message: object, timeoutMs?: number): Promise<T>
  stop(): void
}

function wrap(child: ChildProcess): Child {
  return {
    process: child,
    pid: child.pid as number,
    ask<T>(message: object, timeoutMs = 120_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage)
          reject(new Error(`no answer to ${JSON.stringify(message)} within ${timeoutMs} ms`))
        }, timeoutMs)
        const onMessage = (answer: unknown): void => {
          clearTimeout(timer)
          resolve(answer as T)
        }
        child.once('message', onMessage)
        child.send(message)
      })
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}

function started(child: ChildProcess, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not start in time')), timeoutMs)
    child.once('message', (message) => {
      clearTimeout(timer)
      resolve(message as Record<string, unknown>)
    })
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
  })
}

/** Starts a server kind (`ssehub`, `node-http`) with `--expose-gc`; resolves with its port. */
export async function startServer(
  kind: string,
  env: Record<string, string> = {},
  cpus?: string,
): Promise<Child & { port: number }> {
  const child = fork(here('./server.ts'), [kind], {
    execArgv: [...SERVER_ARGS, '--expose-gc'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = await started(child)
  if (cpus !== undefined) await pin(child.pid as number, cpus)
  return { ...wrap(child), port: ready.port as number }
}

/** Starts the client process (subscribers and publisher). */
export async function startClient(cpus?: string): Promise<Child> {
  const child = fork(here('./client.ts'), [], {
    execArgv: TSX,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  await started(child)
  if (cpus !== undefined) await pin(child.pid as number, cpus)
  return wrap(child)
}

/** `taskset -a -p` a process (every thread) onto a CPU list; a no-op when taskset is missing. */
async function pin(pid: number, cpus: string): Promise<void> {
  const { execFile } = await import('node:child_process')
  await new Promise<void>((resolve) => {
    execFile('taskset', ['-a', '-p', '-c', cpus, String(pid)], () => resolve())
  })
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
