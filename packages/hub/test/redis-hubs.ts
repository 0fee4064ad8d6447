/**
 * Hub processes for the Redis tests: `ssehub serve --redis ...` spawned as separate OS processes
 * (the CLI from its TypeScript sources), killed with `kill -9` or stopped with SIGTERM.
 */
import type { ChildProcess } from 'node:child_process'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { CLI_START_MS as START_MS, spawnCli } from './helpers.js'

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

/**
 * What a hub logged, one message per line: `ssehub serve` logs JSON lines (`{"msg": ...}`), whose
 * quotes are escaped; a line that is not JSON is kept as it is.
 */
export function logMessages(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => {
      try {
        const entry: unknown = JSON.parse(line)
        const msg = (entry as { msg?: unknown } | null)?.msg
        return typeof msg === 'string' ? msg : line
      } catch {
        return line
      }
    })
    .join('\n')
}

/** Spawns `ssehub <args>` and returns at once (the process may still be starting). */
export function runCli(args: readonly string[], env: Record<string, string> = {}) {
  const cli = spawnCli(args, { baseEnv: hubEnv(env) })
  return { child: cli.child, stdout: () => cli.stdout, stderr: () => cli.stderr, exited: cli.exited }
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
    waitForLog: (pattern, ms = 10_000) =>
      waitFor(() => pattern.test(logMessages(run.stderr())), ms, `log ${pattern}`),
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

/** `GET /healthz` (liveness) or `GET /readyz` (readiness): status and body. */
export async function health(
  hub: HubProcess,
  path: 'healthz' | 'readyz' = 'healthz',
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of several shapes
): Promise<{ status: number; body: any }> {
  const response = await withTimeout(
    fetch(hub.at(path), { signal: AbortSignal.timeout(3000) }),
    3100,
    `GET /${path}`,
  )
  return {
    status: response.status,
    body: JSON.parse(await withTimeout(response.text(), 3000, `${path} body`)),
  }
}

/** Polls `/readyz` until it answers `status`, failing after `ms`. */
export async function waitForReadiness(hub: HubProcess, status: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const answer = await health(hub, 'readyz').catch(() => undefined)
    if (answer?.status === status) return
    if (Date.now() > deadline) throw new Error(`/readyz did not answer ${status} within ${ms} ms`)
    await sleep(50)
  }
}
