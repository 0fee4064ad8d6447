/**
 * Real Redis for tests: spawns `redis-server` processes on free ports so tests can kill, restart
 * and flush them, starts a small Redis Cluster from them, and puts a pausable TCP proxy in between.
 * Never touches a Redis it did not start, except REDIS_URL when no binary exists (and then only
 * the keys of the prefixes a test created).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RedisClientOptions } from 'redis'
import { sleep, withTimeout } from './deadline.js'
import { freePort } from './ports.js'
import { killOnExit, which } from './processes.js'

/**
 * node-redis, loaded on first use: only tests that talk to Redis pay for it, and packages whose
 * tests never do need not install it (`redis` is an optional peer dependency of the test kit).
 */
async function createClient(options: RedisClientOptions) {
  const { createClient: create } = await import('redis')
  return create(options)
}

/** The `redis-server` binary on PATH, if any. */
export const REDIS_SERVER = which('redis-server')
/** The `redis-cli` binary on PATH, if any (needed to create a cluster). */
export const REDIS_CLI = which('redis-cli')
/** A Redis to use when no binary exists; only per-test key prefixes are touched on it. */
export const REDIS_URL = process.env.REDIS_URL
const REQUIRED = process.env.SSEHUB_REQUIRE_REDIS === '1'

const warned = new Set<string>()

/**
 * The node:test `skip` value for tests needing Redis: `false` to run, or the reason to skip,
 * announced loudly once. With `SSEHUB_REQUIRE_REDIS=1` it never skips: the test then fails when
 * it tries to start Redis.
 * @param need `'binary'` when the test must start, stop or flush its own server, `'cluster'` when
 *   it builds a cluster (redis-cli too), `'redis'` when REDIS_URL would do.
 */
export function redisSkip(need: 'cluster' | 'binary' | 'redis'): string | false {
  if (REDIS_SERVER !== undefined && (need !== 'cluster' || REDIS_CLI !== undefined)) return false
  if (need === 'redis' && REDIS_URL !== undefined) return false
  if (REQUIRED) return false
  const reason = {
    cluster: 'needs redis-server and redis-cli on PATH',
    binary: 'needs redis-server on PATH',
    redis: 'needs redis-server on PATH or REDIS_URL',
  }[need]
  if (!warned.has(reason)) {
    warned.add(reason)
    console.warn(
      `\n${'!'.repeat(78)}\n!! SKIPPING Redis tests: ${reason}. Set SSEHUB_REQUIRE_REDIS=1 to fail instead.\n${'!'.repeat(78)}\n`,
    )
  }
  return reason
}

/** A backstop for crashes: never leave a redis-server behind. Registered with the first spawn. */
const spawned = killOnExit<ChildProcess>((running) => running.kill('SIGKILL'))
function track(child: ChildProcess): void {
  spawned.add(child)
  child.once('exit', () => spawned.delete(child))
}

/** Sends one command on a short-lived connection (no reconnects) and returns the reply. */
export async function redisCommand(url: string, args: readonly string[]): Promise<unknown> {
  const client = await createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2000 } })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), 3000, `connect ${url}`)
    return await withTimeout(client.sendCommand([...args]), 10_000, args[0] ?? 'command')
  } finally {
    client.destroy()
  }
}

/** Answers when something speaking RESP answers PING on the port. */
async function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')))
  })
}

export interface RedisServerOptions {
  /** Keep data on disk (AOF, fsync always) so a restart can keep it. @defaultValue false */
  persistent?: boolean
  /** Extra `redis-server` arguments. */
  args?: readonly string[]
  /** Port to listen on. @defaultValue a free one */
  port?: number
}

/** One spawned `redis-server`. */
export class RedisServer {
  readonly port: number
  readonly dir: string
  readonly #options: RedisServerOptions
  #child: ChildProcess | undefined

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port
    this.dir = dir
    this.#options = options
  }

  /** Starts a server and waits until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (REDIS_SERVER === undefined) {
      throw new Error('redis-server is not on PATH (SSEHUB_REQUIRE_REDIS=1 makes that a failure)')
    }
    const server = new RedisServer(
      options.port ?? (await freePort()),
      mkdtempSync(join(tmpdir(), 'ssehub-redis-')),
      options,
    )
    await server.#spawn()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.#child !== undefined
  }

  async #spawn(): Promise<void> {
    const persistence = this.#options.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']
    const child = spawn(
      REDIS_SERVER as string,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--dir',
        this.dir,
        ...persistence,
        ...(this.#options.args ?? []),
      ],
      { stdio: 'ignore' },
    )
    track(child)
    this.#child = child
    const deadline = Date.now() + 5000
    while (!(await pings(this.port))) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING`)
      await sleep(20)
    }
  }

  /** Stops the server (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits until it has exited. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill(signal)
      await withTimeout(exited, 5000, 'redis-server exit').catch(async () => {
        child.kill('SIGKILL')
        await withTimeout(exited, 2000, 'redis-server exit after SIGKILL')
      })
    }
  }

  /**
   * Starts the server again on the same port. With `keepData` (and `persistent`) it reloads its
   * AOF; otherwise it comes back empty, as after a restart without persistence.
   */
  async restart(options: { keepData: boolean }): Promise<void> {
    await this.stop()
    if (!options.keepData) {
      rmSync(this.dir, { recursive: true, force: true })
      mkdirSync(this.dir, { recursive: true })
    }
    await this.#spawn()
  }

  command(...args: string[]): Promise<unknown> {
    return redisCommand(this.url, args)
  }

  /** FLUSHALL: the data loss of a wiped or replaced Redis. */
  async flushAll(): Promise<void> {
    await this.command('FLUSHALL')
  }

  /** Stops the server for good and removes its directory. */
  async close(): Promise<void> {
    await this.stop('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Deletes every key starting with `base` (one prefix's data) on one Redis: data loss for that prefix only. */
export async function deleteKeys(url: string, base: string): Promise<void> {
  const client = await createClient({ url, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  await withTimeout(client.connect(), 3000, 'connect')
  try {
    let cursor = '0'
    do {
      const reply = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${base}*`, 'COUNT', '1000'])) as [
        string,
        string[],
      ]
      cursor = reply[0]
      // One key at a time: keys of one hash tag share a slot, but DEL of many is not needed here.
      for (const key of reply[1]) await client.sendCommand(['DEL', key])
    } while (cursor !== '0')
  } finally {
    client.destroy()
  }
}

/** A Redis Cluster of `redis-server` processes (masters only) created with `redis-cli --cluster create`. */
export class RedisClusterFixture {
  readonly servers: readonly RedisServer[]

  private constructor(servers: RedisServer[]) {
    this.servers = servers
  }

  static async start(masters = 3, options: { persistent?: boolean } = {}): Promise<RedisClusterFixture> {
    if (REDIS_CLI === undefined) throw new Error('redis-cli is not on PATH')
    const servers: RedisServer[] = []
    try {
      for (let i = 0; i < masters; i++) {
        const port = await freePort()
        const busPort = await freePort()
        servers.push(
          await RedisServer.start({
            port,
            persistent: options.persistent ?? false,
            args: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              // Relative to the server's --dir, removed with it.
              'nodes.conf',
              // Redis 7.0 takes the bus port explicitly, so it need not be port + 10000 (maybe taken).
              '--cluster-port',
              String(busPort),
              '--cluster-node-timeout',
              '2000',
            ],
          }),
        )
      }
      const created = spawnSync(
        REDIS_CLI,
        [
          '--cluster',
          'create',
          ...servers.map((server) => `127.0.0.1:${server.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 20_000 },
      )
      if (created.status !== 0)
        throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
      const fixture = new RedisClusterFixture(servers)
      await fixture.waitUntilOk()
      return fixture
    } catch (error) {
      for (const server of servers) await server.close()
      throw error
    }
  }

  /** Waits until every node reports `cluster_state:ok`. */
  async waitUntilOk(ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms
    for (const server of this.servers) {
      while (!String(await server.command('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`cluster not ok within ${ms} ms`)
        await sleep(50)
      }
    }
  }

  get rootNodes(): { url: string }[] {
    return this.servers.map((server) => ({ url: server.url }))
  }

  /** Deletes one prefix's keys on every master (they all live on the one owning the hash tag's slot). */
  async deleteKeys(base: string): Promise<void> {
    for (const server of this.servers) await deleteKeys(server.url, base)
  }

  async close(): Promise<void> {
    for (const server of this.servers) await server.close()
  }
}

/** A TCP proxy in front of a port whose forwarding can be paused: a network that stalls without closing. */
export class TcpProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly port: number
  #paused = false

  private constructor(server: Server, port: number) {
    this.#server = server
    this.port = port
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer()
    const proxy = await new Promise<TcpProxy>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        resolve(new TcpProxy(server, typeof address === 'object' && address !== null ? address.port : 0))
      })
    })
    server.on('connection', (client) => proxy.#pipe(client, targetPort))
    return proxy
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  #pipe(client: Socket, targetPort: number): void {
    const upstream = createConnection({ port: targetPort, host: '127.0.0.1' })
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
      socket.on('error', () => {})
      if (this.#paused) socket.pause()
    }
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => client.write(chunk))
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }

  /** Stops forwarding in both directions, on open and new connections; nothing is closed. */
  pause(): void {
    this.#paused = true
    for (const socket of this.#sockets) socket.pause()
  }

  resume(): void {
    this.#paused = false
    for (const socket of this.#sockets) socket.resume()
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}
