/**
 * The load generator as the harness drives it: subscriber runs it can watch (ready, progress with
 * the harness clock) and publisher runs it awaits. `load.ts` implements this over
 * `bench/loadgen/run.ts` (startSub/runPub), which owns the argv and the report formats.
 */
import type {
  SubProgress as LoadgenSubProgress,
  PubOptions,
  PubResult,
  SubOptions,
  SubResult,
} from '../loadgen/run.js'

export type { LatencySummary, PubResult, SubResult } from '../loadgen/run.js'

/** Options of `loadgen sub`; the CPU pinning is the generator's. */
export type SubSpec = Omit<SubOptions, 'cpus'>

/** Options of `loadgen pub`; the CPU pinning is the generator's. */
export type PubSpec = Omit<PubOptions, 'cpus'>

/** One progress line of a subscriber run (its counts), with the harness clock when it arrived. */
export interface SubProgress extends Omit<LoadgenSubProgress, 'done'> {
  /** `performance.now()` when the line was read. */
  atMs: number
}

/** A subscriber run in progress. */
export interface SubRun {
  /** Resolves with the connected count once every connection has its response headers. */
  readonly ready: Promise<number>
  /** The final report (rejects when the load generator failed or was killed). */
  readonly result: Promise<SubResult>
  /** Every progress line so far (bounded: the newest 20,000). */
  readonly progress: readonly SubProgress[]
  /** Ends the run early; the load generator still reports (SIGTERM). */
  stop(): Promise<SubResult>
  /** Kills the load generator's process group. */
  kill(): void
}

/** The load generator. */
export interface LoadGenerator {
  /** Pins every later run to this taskset CPU list (undefined: no pinning). */
  pin(cpus: string | undefined): void
  sub(spec: SubSpec): SubRun
  pub(spec: PubSpec): Promise<PubResult>
}
