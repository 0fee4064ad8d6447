/**
 * Hub processes for the Redis tests: `ssehub serve --redis ...` spawned as separate OS processes
 * (the CLI from its TypeScript sources), killed with `kill -9` or stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CLI = 'packages/hub/src/cli.ts'
/** tsx compiles on first start; a cold start takes a few seconds on a busy machine. */
export const START_MS = 20_000

/** One `ssehub serve` process. */
export interface HubProcess {
  readonly child: ChildProcess
  /** The base URL, e.g. `http://127.0.0.1:41234/` (known once started). */
  readonly url: string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | string>
  at(path: string): string
  /** Resolves once `pattern` appears on stderr (what the hub logs). */
  waitForLog(pattern: RegExp, ms?: number): Promise<void>
  /** `kill -9`: the process dies at once, without closing anything. */
  kill(): Promise<void>
  /** SIGTERM, and waits for the exit code. */
  stop(): Promise<number | string>
}

/** The environment of a hub process: no Redis or hub setting leaks in from the test runner's. */
function hubEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  for (const name of Object.keys(env))
    if (name.startsWith('SSEHUB_') || name === 'REDIS_URL') delete env[name]
  return { ...env, ...extra }
}

/** Spawns `ssehub <args>` and returns at once (the process may still be starting). */
export function runCli(args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@ssehub/source', CLI, ...args], {
    cwd: ROOT,
    env: hubEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/**
 * Starts `ssehub serve --port 0 <args>` and waits for its banner (the last line is printed once the
 * broker is connected and the Flask-SSE bridge subscribed). Register `stop`/`kill` in an after hook.
 */
export async function startHubProcess(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<HubProcess> {
  const run = runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--no-demo', ...args], env)
  const banner = /ssehub listening on http:\/\/localhost:(\d+)\n[\s\S]*publish {4}curl[^\n]*\n/
  const exitedEarly = run.exited.then((code) => {
    throw new Error(`ssehub serve exited with ${code} before listening: ${run.stderr()}`)
  })
  exitedEarly.catch(() => {})
  await withTimeout(
    Promise.race([waitFor(() => banner.test(run.stdout()), START_MS, 'ssehub serve banner'), exitedEarly]),
    START_MS + 1000,
    'ssehub serve start',
  ).catch((error: unknown) => {
    run.child.kill('SIGKILL')
    throw error
  })
  const port = banner.exec(run.stdout())?.[1] ?? '0'
  const url = `http://127.0.0.1:${port}/`
  const alive = (): boolean => run.child.exitCode === null && run.child.signalCode === null
  return {
    ...run,
    url,
    at: (path) => new URL(path, url).href,
    waitForLog: (pattern, ms = 10_000) => waitFor(() => pattern.test(run.stderr()), ms, `log ${pattern}`),
    async kill() {
      if (alive()) run.child.kill('SIGKILL')
      await withTimeout(run.exited, 5000, 'kill -9 of a hub')
    },
    async stop() {
      if (alive()) run.child.kill('SIGTERM')
      return withTimeout(run.exited, 15_000, 'hub stop')
    },
  }
}

/** `POST /publish` with a JSON body, bounded; resolves with the status and the parsed answer. */
export async function publishTo(
  hub: HubProcess,
  body: unknown,
  ms = 5000,
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of several shapes
): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const started = performance.now()
  const response = await withTimeout(
    fetch(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ms),
    }),
    ms + 100,
    `POST ${hub.url}publish`,
  )
  const text = await withTimeout(response.text(), ms, 'publish answer')
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
    ms: performance.now() - started,
  }
}

/** `GET /healthz`: status and body. */
// biome-ignore lint/suspicious/noExplicitAny: tests read answers of several shapes
export async function health(hub: HubProcess): Promise<{ status: number; body: any }> {
  const response = await withTimeout(
    fetch(hub.at('healthz'), { signal: AbortSignal.timeout(3000) }),
    3100,
    'GET /healthz',
  )
  return {
    status: response.status,
    body: JSON.parse(await withTimeout(response.text(), 3000, 'healthz body')),
  }
}

/** Polls `/healthz` until it answers `status`, failing after `ms`. */
export async function waitForHealth(hub: HubProcess, status: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const answer = await health(hub).catch(() => undefined)
    if (answer?.status === status) return
    if (Date.now() > deadline) throw new Error(`/healthz did not answer ${status} within ${ms} ms`)
    await sleep(50)
  }
}
