/**
 * The harness's load generator over `bench/loadgen/run.ts`: pins every run to the load CPU, keeps
 * each subscriber run's progress lines with the harness clock (S4 interpolates event counts at
 * the edges of its strace window), and bounds every run by its own duration plus a margin.
 */
import { loadgenPath } from '../loadgen/build.js'
import { type PubResult, runPub, startSub } from '../loadgen/run.js'
import type { LoadGenerator, PubSpec, SubProgress, SubRun, SubSpec } from './load-types.js'

const PROGRESS_LIMIT = 20_000
/** Beyond its own --duration, how long a run may take to report before it is killed. */
const MARGIN_MS = 60_000

/** Compiles the load generator if needed and returns a generator bound to it. */
export async function createLoadGenerator(): Promise<LoadGenerator> {
  await loadgenPath()
  let cpus: string | undefined
  return {
    pin(list) {
      cpus = list
    },

    sub(spec: SubSpec): SubRun {
      const progress: SubProgress[] = []
      const run = startSub(cpus === undefined ? { ...spec } : { ...spec, cpus }, {
        timeoutMs: spec.durationS * 1000 + MARGIN_MS,
        onProgress(line) {
          progress.push({
            t: line.t,
            connected: line.connected,
            events: line.events,
            gaps: line.gaps,
            failed: line.failed,
            closed: line.closed,
            atMs: performance.now(),
          })
          if (progress.length > PROGRESS_LIMIT) progress.splice(0, progress.length - PROGRESS_LIMIT)
        },
      })
      const ready = run.ready.then((line) => line.connected)
      ready.catch(() => {})
      return {
        ready,
        result: run.result,
        progress,
        stop: () => run.stop(),
        kill: () => run.kill(),
      }
    },

    pub(spec: PubSpec): Promise<PubResult> {
      const bound = spec.durationS ?? 600
      return runPub(cpus === undefined ? spec : { ...spec, cpus }, { timeoutMs: bound * 1000 + MARGIN_MS })
    },
  }
}
