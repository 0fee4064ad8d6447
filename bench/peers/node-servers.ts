/**
 * Shared start-up of the Node peers (node-http, better-sse): N processes on consecutive ports,
 * each a plain `node <server>.mjs`; with N > 1 they share publishes through Redis pub/sub (one
 * subscription per process, servers/fanout.mjs), so a publish to the first reaches every process.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { positiveInteger, REPO_ROOT, startServers, tempDir } from './process.js'
import type { PeerStartOptions, RunningPeer } from './types.js'

export async function startNodeServers(
  name: 'node-http' | 'better-sse',
  script: string,
  options: PeerStartOptions,
  extraEnv: Record<string, string> = {},
): Promise<RunningPeer> {
  const processes = positiveInteger(options.processes, 1, 'processes')
  if (processes > 1 && options.redisUrl === undefined) {
    throw new Error(
      `${name}: processes > 1 needs redisUrl (the processes share publishes through Redis pub/sub)`,
    )
  }
  const dir = tempDir(name)
  const base: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', ...extraEnv }
  delete base.REDIS_URL
  delete base.HEARTBEAT_MS
  if (options.heartbeatMs !== undefined) base.HEARTBEAT_MS = String(options.heartbeatMs)
  if (processes > 1) {
    base.REDIS_URL = options.redisUrl
    // Unique per run: two runs on one Redis never see each other's events.
    base.FANOUT_PREFIX = `bench:${name}:${randomBytes(4).toString('hex')}:`
  }
  return startServers({
    name,
    dir,
    port: options.port,
    servers: processes,
    spawn: (port) => ({
      command: process.execPath,
      args: [join(REPO_ROOT, 'bench/peers/servers', script)],
      options: {
        cpus: options.cpus,
        logFile: join(dir, `${name}-${port}.log`),
        env: { ...base, PORT: String(port) },
      },
    }),
    subscribePath: '/events?channel=c%c',
    publish: { path: '/publish?channel=c{c}' },
    timeoutMs: 20_000,
    processes,
  })
}
