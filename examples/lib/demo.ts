import type { Hub } from '@ssehub/core'

/** Settings of the gallery; the defaults are for people, tests speed them up. */
export interface GalleryOptions {
  /** Period of the clock, named-events and resume demos, in ms. @defaultValue 1000 */
  tickMs?: number
  /** Mean duration of one step of a task (20 steps), in ms. @defaultValue 180 */
  taskStepMs?: number
  /** Period of the metrics sampler, in ms. @defaultValue 1000 */
  metricsMs?: number
  /** Mean period of one symbol's price update, in ms. @defaultValue 900 */
  tickerMs?: number
  /** Cron patterns of the scheduled demo's jobs, by job name, replacing the defaults. @defaultValue none */
  schedules?: Readonly<Record<string, string>>
}

/** What every demo's `mount` function gets. */
export interface DemoContext {
  readonly hub: Hub
  readonly tickMs: number
  readonly taskStepMs: number
  readonly metricsMs: number
  readonly tickerMs: number
  readonly schedules: Readonly<Record<string, string>>
}

/** A mounted demo: what it must stop when the gallery closes. */
export interface Demo {
  close?(): void | Promise<void>
}
