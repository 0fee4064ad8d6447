/**
 * `ssehub serve --workers N`: the primary process of a `node:cluster`. It serves no HTTP itself:
 * it forks N workers that share the listening port (the primary accepts and hands connections
 * out round-robin), restarts a worker that dies, and on SIGTERM lets every worker drain, then
 * exits. Without Redis it also holds the one broker of the cluster, which workers reach over IPC
 * ({@link IpcBroker}): one log and one id space whichever worker a client reconnects to.
 */
import cluster, { type Worker } from 'node:cluster'
import { type Broker, MemoryBroker } from '@ssehub/core'
import { type CliIo, EXIT_FAILURE, EXIT_OK } from '../cli-io.js'
import type { ServeConfig } from '../config.js'
import { serveClusterMetrics } from './cluster-metrics.js'
import { type IpcMessage, type IpcPort, serveBroker } from './ipc-broker.js'

/** Set in the environment of every worker: its index, 0..N-1. */
export const WORKER_ENV = 'SSEHUB_CLUSTER_WORKER'

/** True in a worker process forked by {@link runPrimary}. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined
}

/** The IPC port of a worker process, to its primary. */
export function processPort(): IpcPort {
  return {
    send(message, done) {
      if (process.connected) process.send?.(message, undefined, {}, done)
      else done?.(new Error('the IPC channel is closed'))
    },
    onMessage(listener) {
      process.on('message', listener)
      return () => process.off('message', listener)
    },
  }
}

/** The IPC port of the primary, to one worker. */
function workerPort(worker: Worker): IpcPort {
  return {
    send(message: IpcMessage, done) {
      if (worker.isConnected()) worker.send(message, undefined, {}, done)
      else done?.(new Error('the IPC channel is closed'))
    },
    onMessage(listener) {
      worker.on('message', listener)
      return () => worker.off('message', listener)
    },
  }
}

/** First restart delay of a worker that died; it doubles up to the maximum. */
const RESTART_MIN_MS = 100
const RESTART_MAX_MS = 5_000
/** A worker that ran this long resets the restart delay. */
const STABLE_MS = 10_000

/**
 * Runs the primary. Resolves with the exit code: 0 after a signal once every worker has exited,
 * or the exit code of a worker that failed before it ever listened (a taken port, a bad
 * certificate): restarting it would fail the same way.
 */
export function runPrimary(
  config: ServeConfig,
  io: CliIo,
  announce: (port: number) => void,
): Promise<number> {
  const broker: Broker | undefined =
    config.redisUrl === false
      ? new MemoryBroker({ historyLimit: config.historyLimit, historyTtlMs: config.historyTtlMs })
      : undefined
  const stopServing = new Map<Worker, () => void>()
  const stopMetrics = serveClusterMetrics()
  const slots: Array<Worker | undefined> = Array.from({ length: config.workers }, () => undefined)
  const startedAt = new Map<Worker, number>()
  const delays = slots.map(() => RESTART_MIN_MS)
  let listening = 0
  let announced = false
  let stopping = false

  return new Promise((resolve) => {
    let exitCode = EXIT_OK
    const finish = async (code: number): Promise<void> => {
      stopOnSignal()
      stopMetrics()
      await broker?.close()
      resolve(code)
    }
    const fork = (slot: number): void => {
      const worker = cluster.fork({ [WORKER_ENV]: String(slot) })
      slots[slot] = worker
      startedAt.set(worker, Date.now())
      if (broker !== undefined) stopServing.set(worker, serveBroker(broker, workerPort(worker)))
      let everListened = false
      worker.once('listening', (address) => {
        everListened = true
        listening++
        if (!announced && listening === config.workers) {
          announced = true
          announce(address.port)
        }
      })
      worker.once('exit', (code, signal) => {
        stopServing.get(worker)?.()
        stopServing.delete(worker)
        if (everListened) listening--
        slots[slot] = undefined
        if (stopping) {
          if (slots.every((other) => other === undefined)) void finish(exitCode)
          return
        }
        if (!everListened) {
          // It never served: the same start would fail the same way. Stop the others too.
          io.err(`ssehub: worker ${slot} failed to start (exit ${code ?? signal}); stopping\n`)
          stop(code !== null && code !== 0 ? code : EXIT_FAILURE)
          return
        }
        const ran = Date.now() - (startedAt.get(worker) ?? 0)
        if (ran >= STABLE_MS) delays[slot] = RESTART_MIN_MS
        const delay = delays[slot] ?? RESTART_MIN_MS
        delays[slot] = Math.min(delay * 2, RESTART_MAX_MS)
        io.err(`ssehub: worker ${slot} exited (${code ?? signal}); restarting in ${delay} ms\n`)
        setTimeout(() => {
          if (!stopping) fork(slot)
        }, delay)
      })
    }
    const stop = (code: number): void => {
      if (stopping) return
      stopping = true
      exitCode = code
      const alive = slots.filter((worker): worker is Worker => worker !== undefined)
      if (alive.length === 0) {
        void finish(exitCode)
        return
      }
      // Each worker drains on SIGTERM (readiness off, streams closed in waves), then exits.
      for (const worker of alive) worker.process.kill('SIGTERM')
    }
    const stopOnSignal = io.onSignal((signal) => {
      if (stopping) {
        io.err(`ssehub: ${signal} again, exiting now\n`)
        for (const worker of slots) worker?.process.kill('SIGKILL')
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15))
      }
      io.err(`ssehub: ${signal} received, draining ${config.workers} workers (again to exit now)\n`)
      stop(EXIT_OK)
    })
    for (let slot = 0; slot < config.workers; slot++) fork(slot)
  })
}
