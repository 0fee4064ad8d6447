/**
 * Flask-SSE, as its equivalent app (servers/flask_sse_app.py: flask-sse is not in Debian and PyPI
 * is unreachable here) on Debian's python3-flask, python3-redis, python3-gevent and gunicorn:
 * `gunicorn -k gevent -w N` on one port. Every stream holds its own Redis pub/sub connection, as
 * with flask-sse, so Redis (redisUrl, default redis://127.0.0.1:6379) must be running and allow
 * as many clients as there are subscribers (Redis' default maxclients is 10000).
 */
import { readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import {
  aptInstall,
  debianVersion,
  hardFdLimit,
  positiveInteger,
  REPO_ROOT,
  run,
  startServers,
  tempDir,
  which,
} from './process.js'
import type { Peer, PeerStartOptions, RunningPeer } from './types.js'

export const FLASK_PACKAGES = ['python3-flask', 'python3-redis', 'python3-gevent', 'gunicorn'] as const
const DEFAULT_REDIS = 'redis://127.0.0.1:6379'

/** The Python that runs gunicorn (its #! line): the one that must import flask, redis and gevent. */
function gunicornPython(gunicorn: string): string {
  const first = readFileSync(gunicorn, 'utf8').split('\n', 1)[0] ?? ''
  const interpreter = first.startsWith('#!') ? first.slice(2).trim().split(/\s+/) : []
  // `#!/usr/bin/env python3` names the program after env.
  return (interpreter[0]?.endsWith('/env') ? interpreter[1] : interpreter[0]) ?? 'python3'
}

/** Answers when a Redis at `url` answers PING. */
function redisAnswers(url: string): Promise<boolean> {
  const parsed = new URL(url)
  return new Promise((resolve) => {
    const socket = createConnection({ host: parsed.hostname, port: Number(parsed.port || 6379) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    // +PONG, or -NOAUTH from a Redis with a password (the app's URL carries it): either way, Redis.
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString())))
  })
}

let version: string | undefined

export const flaskSse: Peer = {
  name: 'flask-sse',
  get label() {
    return `Flask-SSE equivalent (Flask + redis pub/sub, gunicorn gevent${version === undefined ? '' : ` ${version}`})`
  },
  supports: { replay: false, multiProcess: true },

  async available() {
    const gunicorn = which('gunicorn')
    if (gunicorn === undefined)
      return `gunicorn is not installed (apt-get install ${FLASK_PACKAGES.join(' ')})`
    const python = gunicornPython(gunicorn)
    const check = await run(python, ['-c', 'import flask, redis, gevent'], { timeoutMs: 30_000 }).catch(
      (error: Error) => ({ code: 1, output: error.message }),
    )
    if (check.code !== 0) {
      return `${python} cannot import flask, redis and gevent (apt-get install ${FLASK_PACKAGES.join(' ')}): ${check.output.trim().split('\n').pop()}`
    }
    version ??= (await debianVersion('gunicorn'))?.replace(/-.*$/, '')
    return undefined
  },

  async install() {
    if ((await flaskSse.available()) === undefined) return
    await aptInstall(FLASK_PACKAGES)
    const still = await flaskSse.available()
    if (still !== undefined) throw new Error(`flask-sse: installed ${FLASK_PACKAGES.join(' ')} but ${still}`)
  },

  async start(options: PeerStartOptions): Promise<RunningPeer> {
    const workers = positiveInteger(options.processes, 1, 'processes')
    const gunicorn = which('gunicorn')
    if (gunicorn === undefined) throw new Error(`flask-sse: ${await flaskSse.available()}`)
    const redisUrl = options.redisUrl ?? DEFAULT_REDIS
    if (!(await redisAnswers(redisUrl))) throw new Error(`flask-sse: no Redis answers at ${redisUrl}`)
    const dir = tempDir('flask-sse')
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, PYTHONDONTWRITEBYTECODE: '1' }
    delete env.PYTHONPATH
    return startServers({
      name: 'flask-sse',
      dir,
      port: options.port,
      spawn: (port) => ({
        command: gunicorn,
        args: [
          '--worker-class',
          'gevent',
          '--workers',
          String(workers),
          // gevent's default is 1000 clients per worker; each stream takes two descriptors (the
          // client's socket and its Redis pub/sub connection).
          '--worker-connections',
          String(Math.floor(hardFdLimit() / 2) - 100),
          '--bind',
          `127.0.0.1:${port}`,
          '--chdir',
          join(REPO_ROOT, 'bench/peers/servers'),
          // Streams never finish: do not wait 30 s for them on SIGTERM.
          '--graceful-timeout',
          '2',
          '--log-level',
          'warning',
          'flask_sse_app:app',
        ],
        options: { cpus: options.cpus, env, logFile: join(dir, 'gunicorn.log') },
      }),
      subscribePath: '/events?channel=c%c',
      publish: { path: '/publish?channel=c{c}' },
      timeoutMs: 30_000,
      processes: 1 + workers,
    })
  },
}
