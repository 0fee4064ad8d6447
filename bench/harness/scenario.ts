/** The shape of a scenario module (S1..S8) and helpers they share. */
import type { Peer, RunningPeer } from '../peers/types.js'
import type { BenchContext } from './context.js'
import { type FanoutSpec, fanoutAttempt, measureFanout } from './measure.js'
import type { MetricTable, PointRecord, ScenarioResult } from './results.js'
import { clamp } from './stats.js'
import { barChart } from './svg-chart.js'

/** One file of a scenario's plots. */
export interface Chart {
  file: string
  svg: string
}

/** A benchmark scenario. */
export interface Scenario {
  id: string
  title: string
  description: string
  /** Measures every peer (only the available ones are passed), appending points and notes. */
  run(ctx: BenchContext, peers: readonly Peer[], result: ScenarioResult): Promise<void>
  /** The tables of `<scenario>.md`. */
  tables(result: ScenarioResult): MetricTable[]
  /** The tables `summary.md` quotes (a subset). */
  summaryTables(result: ScenarioResult): MetricTable[]
  charts(result: ScenarioResult): Chart[]
}

/** Payload sizes for scenarios that measure both: `--size` picks one; `--quick` defaults to 100 B. */
export function payloadSizes(ctx: BenchContext): readonly number[] {
  return ctx.options.sizes
}

/** The payload size of scenarios that measure one: the first of `--size` (100 B by default). */
export function firstPayloadSize(ctx: BenchContext): number {
  return ctx.options.sizes[0] ?? 100
}

/** Filter on point params. */
export function where(params: Record<string, string | number | boolean>): (point: PointRecord) => boolean {
  return (point) => Object.entries(params).every(([key, value]) => point.params[key] === value)
}

/** Seconds a full-scale closed-loop run aims for, after calibration. */
const TARGET_SECONDS = 5

/**
 * How many publishes make a closed-loop run last about five seconds: one probe run (not
 * recorded) measures the rate. At `--quick` scale: about 30k deliveries, without a probe.
 */
export async function calibratePublishes(
  ctx: BenchContext,
  running: RunningPeer,
  spec: { subs: number; channels: number; size: number; label: string },
): Promise<number> {
  const perPublish = Math.max(1, spec.subs / spec.channels)
  // Quick scale still needs some 30k deliveries: /proc counts CPU in 10 ms ticks, and a fast
  // server spends only a few µs per delivery.
  if (ctx.options.quick) return spec.channels * clamp(Math.ceil(30_000 / perPublish / spec.channels), 10, 300)
  const probe = Math.max(spec.channels * 2, Math.ceil(100_000 / perPublish / spec.channels) * spec.channels)
  try {
    const outcome = await measureFanout(ctx, running, {
      ...spec,
      publishes: probe,
      mode: 'closed',
      label: `${spec.label} calibration`,
    })
    const wanted = (outcome.deliveriesPerS * TARGET_SECONDS) / perPublish
    const perChannel = clamp(Math.ceil(wanted / spec.channels), 2, 5000)
    return perChannel * spec.channels
  } catch (error) {
    ctx.progress.log(`  calibration failed (${String(error)}); using the probe size`)
    return probe
  }
}

/**
 * Measures one point of a running peer whose every run is one fan-out measurement (`spec(run)`,
 * run counted from 0), recorded with the fan-out metrics.
 */
export function fanoutPoint(
  ctx: BenchContext,
  running: RunningPeer,
  base: Omit<PointRecord, 'runs' | 'summary' | 'status'>,
  runs: number,
  spec: (run: number) => FanoutSpec,
): Promise<PointRecord> {
  return ctx.runPoint(base, runs, async (run) => fanoutAttempt(await measureFanout(ctx, running, spec(run))))
}

/**
 * A closed-loop maximum (S2, S3, S7): publishes calibrated to a run of about five seconds
 * (recorded in the params as `publishes`), then `ctx.options.runs` closed-loop runs, labelled
 * `<runLabel> run <n>` (`runLabel` defaults to `label`, which names the calibration).
 */
export async function closedLoopPoint(
  ctx: BenchContext,
  running: RunningPeer,
  base: Omit<PointRecord, 'runs' | 'summary' | 'status'>,
  spec: {
    subs: number
    channels: number
    size: number
    label: string
    runLabel?: string
    sidePids?: readonly number[]
  },
): Promise<PointRecord> {
  const { subs, channels, size, label } = spec
  const publishes = await calibratePublishes(ctx, running, { subs, channels, size, label })
  return fanoutPoint(
    ctx,
    running,
    { ...base, params: { ...base.params, publishes } },
    ctx.options.runs,
    (run) => ({
      subs,
      channels,
      size,
      publishes,
      mode: 'closed',
      ...(spec.sidePids === undefined ? {} : { sidePids: spec.sidePids }),
      label: `${spec.runLabel ?? label} run ${run + 1}`,
    }),
  )
}

/** The names of the peers that took part, in the result's order. */
export function availablePeers(result: ScenarioResult): string[] {
  return result.peers.filter((peer) => peer.available).map((peer) => peer.name)
}

/**
 * A bar chart of one metric: a group per row (every row of the points, first seen first, unless
 * `rows` is given), in it a bar per available peer with the median at that peer's point of the row
 * (the first that `where` accepts, when given).
 */
export function rowBarChart(
  result: ScenarioResult,
  spec: {
    file: string
    title: string
    yLabel: string
    metric: string
    rows?: readonly string[]
    /** A group's label (default: the row). */
    label?: (row: string) => string
    where?: (point: PointRecord) => boolean
  },
): Chart {
  const peers = availablePeers(result)
  const rows = spec.rows ?? [...new Set(result.points.map((point) => point.row))]
  return {
    file: spec.file,
    svg: barChart({
      title: spec.title,
      yLabel: spec.yLabel,
      groups: rows.map((row) => ({
        label: spec.label?.(row) ?? row,
        bars: peers.map((name) => ({
          name,
          value: medianOf(
            result.points.find(
              (p) => p.peer === name && p.row === row && (spec.where === undefined || spec.where(p)),
            ),
            spec.metric,
          ),
        })),
      })),
    }),
  }
}

/** The median of a metric at one point, if valid. */
export function medianOf(point: PointRecord | undefined, metric: string): number | undefined {
  return point?.status === 'ok' ? point.summary[metric]?.median : undefined
}

/** A point recorded as not supported by a peer. */
export function unsupported(
  peer: Peer,
  row: string,
  params: PointRecord['params'],
  note: string,
): PointRecord {
  return { peer: peer.name, row, params, status: 'unsupported', note, runs: [], summary: {} }
}

/** A point whose setup failed before any run (e.g. the server did not start). */
export function failed(peer: Peer, row: string, params: PointRecord['params'], error: unknown): PointRecord {
  const note = error instanceof Error ? error.message : String(error)
  return { peer: peer.name, row, params, status: 'error', note, runs: [], summary: {} }
}
