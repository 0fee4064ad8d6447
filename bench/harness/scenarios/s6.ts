/**
 * S6 slow consumers: S2's broadcast at 50% of the peer's maximum, once with every subscriber
 * reading and once with 1% of them never reading after the headers. The server's RSS is sampled
 * through the run (it must stay bounded), and the readers' p99 is compared with the run without
 * stalled readers at the same load.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Peer } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import { fanoutDetail, fanoutMetrics, measureFanout } from '../measure.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import {
  type Chart,
  calibratePublishes,
  failed,
  firstPayloadSize,
  medianOf,
  type Scenario,
  where,
} from '../scenario.js'
import { lineChart } from '../svg-chart.js'

const STALL_FRACTION = 0.01

/** The peer's median S2 max deliveries/s from an earlier S2 result in the output folder, if any. */
function maxFromS2(ctx: BenchContext, peer: string, subs: number, size: number): number | undefined {
  try {
    const s2 = JSON.parse(readFileSync(join(ctx.options.out, 's2.json'), 'utf8')) as ScenarioResult
    const point = s2.points.find(
      (p) => p.peer === peer && p.params.subs === subs && p.params.size === size && p.params.load === 'max',
    )
    return medianOf(point, 'deliveriesPerS')
  } catch {
    return undefined
  }
}

async function stallPoints(
  ctx: BenchContext,
  peer: Peer,
  subs: number,
  size: number,
): Promise<PointRecord[]> {
  const seconds = ctx.options.quick ? 3 : 20
  const label = `S6 ${peer.name}`
  const points: PointRecord[] = []
  try {
    await ctx.withPeer(peer, {}, async (running) => {
      let max = maxFromS2(ctx, peer.name, subs, size)
      let source = 's2.json'
      if (max === undefined) {
        source = 'measured here'
        const publishes = await calibratePublishes(ctx, running, { subs, channels: 1, size, label })
        const probe = await measureFanout(ctx, running, {
          subs,
          channels: 1,
          size,
          publishes,
          mode: 'closed',
          label: `${label} max`,
        })
        if (probe.reasons.length > 0) throw new Error(`no valid maximum: ${probe.reasons.join('; ')}`)
        max = probe.deliveriesPerS
      }
      const rate = Math.max(1, Math.round((max * 0.5) / subs))
      for (const stalled of [false, true]) {
        const row = `${subs.toLocaleString('en-US')} subs, 50% load, ${stalled ? `${STALL_FRACTION * 100}% stalled` : 'all reading'}`
        const params = { subs, size, rate, stalled, maxDeliveriesPerS: Math.round(max), maxFrom: source }
        points.push(
          await ctx.runPoint({ peer: peer.name, row, params }, ctx.options.runs, async (run) => {
            const outcome = await measureFanout(ctx, running, {
              subs,
              channels: 1,
              size,
              publishes: rate * seconds,
              mode: 'open',
              rate,
              rssEveryMs: ctx.options.quick ? 250 : 1000,
              label: `${label} ${stalled ? 'stalled' : 'reading'} run ${run + 1}`,
              // Stalled connections may be closed by the server: that is the protection being measured.
              ...(stalled ? { stallFraction: STALL_FRACTION, rules: { allowClosed: true } } : {}),
            })
            const rssValues = outcome.rss.map((sample) => sample.mb)
            return {
              metrics: {
                ...fanoutMetrics(outcome),
                rssStartMb: rssValues[0] ?? null,
                rssMaxMb: rssValues.length > 0 ? Math.max(...rssValues) : null,
                rssEndMb: rssValues[rssValues.length - 1] ?? null,
              },
              reasons: outcome.reasons,
              detail: fanoutDetail(outcome),
            }
          }),
        )
      }
      const reading = points.find((p) => p.params.stalled === false)
      const stalledPoint = points.find((p) => p.params.stalled === true)
      const base = medianOf(reading, 'p99us')
      const withStall = medianOf(stalledPoint, 'p99us')
      if (stalledPoint && base !== undefined && withStall !== undefined && base > 0) {
        const ratio = withStall / base
        stalledPoint.summary.p99VsAllReading = { median: ratio, min: ratio, max: ratio, n: 1 }
      }
    })
  } catch (error) {
    points.push(failed(peer, `${subs.toLocaleString('en-US')} subs, 50% load`, { subs, size }, error))
  }
  return points
}

export const s6: Scenario = {
  id: 's6',
  title: 'slow consumers',
  description:
    `S2's broadcast at 50% of the peer's own maximum (taken from s2.json in the same output folder when present, ` +
    `else measured first), once with every subscriber reading and once with ${STALL_FRACTION * 100}% of them never ` +
    'reading after the headers. Server RSS sampled through the run; the p99 of the subscribers that read, ' +
    'and its ratio to the run without stalled readers. Connections the server closed are counted, not rejected.',

  async run(ctx, peers, result) {
    const subs = ctx.options.quick ? 200 : 10_000
    const size = firstPayloadSize(ctx)
    for (const peer of peers) result.points.push(...(await stallPoints(ctx, peer, subs, size)))
  },

  tables() {
    return [
      { metric: 'p99us', title: 'p99 of the subscribers that read', unit: 'µs', better: 'lower' },
      {
        metric: 'p99VsAllReading',
        title: 'p99 with stalled readers ÷ p99 with all reading',
        better: 'lower',
        filter: where({ stalled: true }),
      },
      { metric: 'rssMaxMb', title: 'Server RSS, maximum during the run', unit: 'MiB', better: 'lower' },
      { metric: 'rssEndMb', title: 'Server RSS at the end of the run', unit: 'MiB', better: 'lower' },
      {
        metric: 'closedUnexpected',
        title: 'Connections closed by the server',
        filter: where({ stalled: true }),
      },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 3)
  },

  charts(result: ScenarioResult): Chart[] {
    const series = result.points
      .filter((point) => point.params.stalled === true && point.status === 'ok')
      .map((point) => {
        const run = point.runs.find((r) => r.valid)
        const rss = (run?.detail?.rss ?? []) as { t: number; mb: number }[]
        return { name: point.peer, points: rss.map((sample) => [sample.t, sample.mb] as const) }
      })
    return [
      {
        file: 's6-rss-with-stalled-readers.svg',
        svg: lineChart({
          title: `S6 server RSS with ${STALL_FRACTION * 100}% stalled readers (first valid run)`,
          xLabel: 'seconds since publishing started',
          yLabel: 'RSS (MiB)',
          series,
        }),
      },
    ]
  },
}
