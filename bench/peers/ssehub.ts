/**
 * ssehub itself: `node packages/hub/dist/cli.js serve`, the hub as users run it, with the limits
 * meant to protect a public deployment (connections per hub, per IP, per subject, publish rate)
 * lifted, since the load generator is one trusted client holding tens of thousands of streams.
 * `processes` > 1: that many hubs on consecutive ports sharing one Redis (`--redis`, required),
 * publishes going to the first. `workers`: `serve --workers N` (node:cluster) on one port.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { positiveInteger, REPO_ROOT, run, startServers, tempDir } from './process.js'
import type { Peer, PeerStartOptions, RunningPeer } from './types.js'

const CLI = join(REPO_ROOT, 'packages/hub/dist/cli.js')
/** The workspaces the hub's dist is built from (tsc -b follows the references). */
const BUILT_FROM = ['core', 'redis', 'server', 'hub']

/** Newest modification time under `dir` (0 when missing). */
function newest(dir: string): number {
  let latest = 0
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return 0
  }
  for (const name of entries) {
    const path = join(dir, name)
    const stat = statSync(path)
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs)
  }
  return latest
}

/** Why the hub's dist must be (re)built, or undefined when it is current. */
export function ssehubBuildReason(): string | undefined {
  if (!existsSync(CLI)) return 'packages/hub/dist/cli.js is missing'
  for (const name of BUILT_FROM) {
    const pkg = join(REPO_ROOT, 'packages', name)
    const info = join(pkg, 'tsconfig.tsbuildinfo')
    const built = existsSync(info) ? statSync(info).mtimeMs : 0
    const source = Math.max(newest(join(pkg, 'src')), statSync(join(pkg, 'package.json')).mtimeMs)
    if (source > built) return `packages/${name}/src is newer than its build`
  }
  return undefined
}

/** The environment without the variables the hub reads (SSEHUB_*, REDIS_URL, PORT): only flags configure it. */
function hubEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('SSEHUB_') && key !== 'REDIS_URL' && key !== 'PORT',
    ),
  )
}

let helpText: Promise<string> | undefined
/** `ssehub serve --help`, read once per process. */
function serveHelp(): Promise<string> {
  helpText ??= run(process.execPath, [CLI, 'serve', '--help'], { timeoutMs: 20_000 }).then(
    (result) => result.output,
  )
  return helpText
}

export const ssehub: Peer = {
  name: 'ssehub',
  get label() {
    let version = ''
    try {
      version = ` ${(JSON.parse(readFileSync(join(REPO_ROOT, 'packages/hub/package.json'), 'utf8')) as { version: string }).version}`
    } catch {
      // no version to show
    }
    return `ssehub${version} (ssehub serve, Node ${process.versions.node})`
  },
  supports: { replay: true, multiProcess: true },

  async available() {
    if (!existsSync(CLI)) return 'packages/hub/dist/cli.js is missing: install() runs npm run build'
    return undefined
  },

  async install() {
    const reason = ssehubBuildReason()
    if (reason === undefined) return
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const result = await run(npm, ['run', 'build'], { timeoutMs: 300_000 })
    helpText = undefined
    if (result.code !== 0) {
      throw new Error(`ssehub: npm run build failed (${reason}), exit ${result.code}:\n${result.output}`)
    }
  },

  async start(options: PeerStartOptions): Promise<RunningPeer> {
    const processes = positiveInteger(options.processes, 1, 'processes')
    const workers = options.workers === undefined ? undefined : positiveInteger(options.workers, 1, 'workers')
    if (processes > 1 && options.redisUrl === undefined) {
      throw new Error('ssehub: processes > 1 needs redisUrl (the hubs share events through Redis)')
    }
    if (workers !== undefined && !(await serveHelp()).includes('--workers')) {
      throw new Error('ssehub: this build of ssehub serve has no --workers flag')
    }
    const common = [
      CLI,
      'serve',
      '--host',
      '127.0.0.1',
      '--auth',
      'off',
      '--no-demo',
      // The load generator is one trusted client on loopback: lift the per-deployment guards.
      '--max-connections',
      'off',
      '--max-connections-per-ip',
      'off',
      '--max-connections-per-subject',
      'off',
      '--publish-rate',
      'off',
    ]
    if (options.heartbeatMs !== undefined) common.push('--heartbeat-ms', String(options.heartbeatMs))
    if (options.historySize !== undefined) common.push('--history-limit', String(options.historySize))
    if (workers !== undefined) common.push('--workers', String(workers))
    // Redis only where it carries events between hubs: one hub (with or without workers) keeps
    // its in-memory broker, as a single-process deployment would.
    if (processes > 1 && options.redisUrl !== undefined) common.push('--redis', options.redisUrl)

    const dir = tempDir('ssehub')
    return startServers({
      name: 'ssehub',
      dir,
      port: options.port,
      servers: processes,
      spawn: (port) => ({
        command: process.execPath,
        args: [...common, '--port', String(port)],
        options: { cpus: options.cpus, logFile: join(dir, `hub-${port}.log`), env: hubEnv() },
      }),
      subscribePath: '/events?channel=c%c',
      publish: {
        path: '/publish',
        body: '{"channel":"c{c}","data":"{data}"}',
        contentType: 'application/json',
      },
      timeoutMs: 30_000,
      processes: processes * (workers === undefined || workers === 1 ? 1 : workers + 1),
    })
  },
}
