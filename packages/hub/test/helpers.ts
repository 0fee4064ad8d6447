import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import { createHubServer, type HubServer, type HubServerOptions } from 'ssehub'

/** A parsed JSON answer, read loosely by the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests index into answers of several shapes
export type Json = any

/** A hub server listening on a free loopback port, for one test. */
export interface TestHub extends HubServer {
  /** The base URL, e.g. `http://127.0.0.1:41234/`. */
  readonly url: URL
  /** `new URL(path, url).href`. */
  at(path: string): string
}

/** Starts a hub server on 127.0.0.1, port 0; close it with `close()` (usually in `t.after`). */
export async function startHub(options: HubServerOptions = {}): Promise<TestHub> {
  const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, ...options })
  const url = await withTimeout(hubServer.listen(), 5000, 'listen')
  return {
    ...hubServer,
    // A getter: spreading would freeze its value.
    get draining() {
      return hubServer.draining
    },
    url,
    at: (path) => new URL(path, url).href,
    close: () => withTimeout(hubServer.close(), 10_000, 'close'),
  }
}

/** A fetch with a deadline. */
export function request(url: string, init: RequestInit = {}, ms = 5000): Promise<Response> {
  return withTimeout(
    fetch(url, { ...init, signal: AbortSignal.timeout(ms) }),
    ms,
    `${init.method ?? 'GET'} ${url}`,
  )
}

/** POSTs a JSON body to /publish and returns the status and parsed answer. */
export async function publishJson(
  hub: TestHub,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return answer(
    await request(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  )
}

/** POSTs a form-encoded body to /publish. */
export async function publishForm(
  hub: TestHub,
  fields: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return answer(
    await request(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
    }),
  )
}

/** Reads a JSON answer. */
export async function answer(response: Response): Promise<{ status: number; body: Json; headers: Headers }> {
  const text = await withTimeout(response.text(), 5000, 'response body')
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
  }
}

/**
 * Opens `GET /events?channel=<channel>` on a raw socket that never reads (destroyed after the
 * test): the kernel buffers fill, then the server's writes report backpressure.
 */
export async function openStalledStream(
  t: { after: (fn: () => void) => void },
  hub: TestHub,
  channel: string,
): Promise<Socket> {
  const socket = connect(Number(hub.url.port), '127.0.0.1')
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  await withTimeout(new Promise((resolve) => socket.once('connect', resolve)), 2000, 'connect')
  socket.write(
    `GET /events?channel=${channel} HTTP/1.1\r\nHost: ${hub.url.host}\r\nAccept: text/event-stream\r\n\r\n`,
  )
  socket.pause()
  await waitFor(() => hub.hub.subscriberCount(channel) === 1, 5000, 'stalled reader subscribed')
  return socket
}

/**
 * Publishes `chunk` on `channel` until it has no subscriber left (the stalled reader was dropped),
 * yielding between events so that sockets drain into the kernel buffers; returns how many it published.
 */
export async function floodUntilDropped(hub: TestHub, channel: string, chunk: string): Promise<number> {
  let published = 0
  await withTimeout(
    (async () => {
      while (hub.hub.subscriberCount(channel) > 0) {
        await hub.hub.publish(channel, chunk)
        published++
        await sleep(0)
        assert.ok(published < 20_000, 'the stalled reader was never dropped')
      }
    })(),
    20_000,
    'overflow',
  )
  return published
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
// An absolute loader: the CLI may run in a temporary working directory, where `tsx` does not resolve.
const TSX = import.meta.resolve('tsx')
/** tsx compiles on first start; a cold start can take a few seconds on a busy machine. */
export const CLI_START_MS = 20_000

/** An `ssehub` process started by {@link spawnCli}, its output collected as it comes. */
export interface CliRun {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>
  /** Resolves once `pattern` has appeared on stdout or stderr. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>
  /** Sends `signal`, unless the process has already exited. */
  kill(signal: NodeJS.Signals): void
}

/** Options of {@link spawnCli}. */
export interface CliOptions {
  /** @defaultValue the repository root */
  readonly cwd?: string
  /** Variables set on top of `baseEnv`. */
  readonly env?: Readonly<Record<string, string>>
  /** The environment `env` is added to. @defaultValue the test runner's, without NODE_OPTIONS */
  readonly baseEnv?: NodeJS.ProcessEnv
  /** `pipe` to write to the process's standard input (`child.stdin`). @defaultValue 'ignore' */
  readonly stdin?: 'pipe' | 'ignore'
}

/** Spawns the real `ssehub <args>` from its TypeScript sources and returns at once. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): CliRun {
  const child = spawn(process.execPath, ['--import', TSX, '--conditions=@ssehub/source', CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...(options.baseEnv ?? { ...process.env, NODE_OPTIONS: '' }), ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  })
  const cli: CliRun = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))),
    waitFor: (pattern, ms = CLI_START_MS) =>
      waitFor(() => pattern.test(cli.stdout) || pattern.test(cli.stderr), ms, `output ${pattern}`),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
  }
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    cli.stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    cli.stderr += chunk
  })
  return cli
}

/** Waits for an `ssehub` process to exit, at most `ms`; resolves with its exit code or signal. */
export function cliExit(cli: CliRun, ms = CLI_START_MS): Promise<number | string> {
  return withTimeout(cli.exited, ms, `ssehub ${cli.child.spawnargs.slice(5).join(' ')}`)
}
