/**
 * S8 soak: a steady open-loop load for a long time (30 minutes by default, `--duration`), server
 * RSS sampled every 10 s; drift = slope of a least-squares line through the samples after the
 * first tenth of the run (warm-up), in MB per hour. Unexpected disconnects and gaps are reported
 * as measured values, not reasons to reject the run.
 */
import type { Peer } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import { fanoutDetail, fanoutMetrics, measureFanout } from '../measure.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import { type Chart, failed, firstPayloadSize, type Scenario } from '../scenario.js'
import { linearFit } from '../stats.js'
import { lineChart } from '../svg-chart.js'

/** RSS drift in MB/h: slope of the samples after the first tenth of the run. */
export function driftMbPerHour(samples: readonly { t: number; mb: number }[]): number | null {
  if (samples.length < 3) return null
  const end = samples[samples.length - 1]?.t ?? 0
  const steady = samples.filter((sample) => sample.t >= end * 0.1)
  const fit = linearFit(steady.map((sample) => [sample.t / 3600, sample.mb] as const))
  return fit === undefined ? null : fit.slope
}

function shape(ctx: BenchContext): {
  subs: number
  channels: number
  rate: number
  durationS: number
  everyMs: number
} {
  const durationS = ctx.options.durationS ?? (ctx.options.quick ? 5 : 1800)
  return ctx.options.quick
    ? { subs: 20, channels: 2, rate: 20, durationS, everyMs: 1000 }
    : { subs: 1000, channels: 10, rate: 100, durationS, everyMs: 10_000 }
}

async function soakPoint(ctx: BenchContext, peer: Peer, size: number): Promise<PointRecord> {
  const { subs, channels, rate, durationS, everyMs } = shape(ctx)
  const row = `${subs.toLocaleString('en-US')} subs / ${channels} channels, ${rate} publishes/s, ${durationS} s`
  const params = { subs, channels, rate, durationS, size }
  try {
    return await ctx.withPeer(peer, {}, async (running) =>
      // A soak is one long run: repeating it would multiply hours, not confidence.
      ctx.runPoint({ peer: peer.name, row, params }, 1, async () => {
        const outcome = await measureFanout(ctx, running, {
          subs,
          channels,
          size,
          publishes: rate * durationS,
          mode: 'open',
          rate,
          rssEveryMs: everyMs,
          rules: { allowLoss: true, allowClosed: true },
          label: `S8 ${peer.name} soak`,
        })
        const rss = outcome.rss
        return {
          metrics: {
            ...fanoutMetrics(outcome),
            rssDriftMbPerH: driftMbPerHour(rss),
            rssStartMb: rss[0]?.mb ?? null,
            rssEndMb: rss[rss.length - 1]?.mb ?? null,
            gaps: outcome.sub.gaps,
            dups: outcome.sub.dups,
          },
          reasons: outcome.reasons,
          detail: fanoutDetail(outcome),
        }
      }),
    )
  } catch (error) {
    return failed(peer, row, params, error)
  }
}

export const s8: Scenario = {
  id: 's8',
  title: 'soak',
  description:
    'A steady open-loop load over several channels for a long time (default 30 minutes; `--duration SEC`), one ' +
    'run per peer. Server RSS every 10 s; drift is the slope of a least-squares line through the samples after ' +
    'the first tenth of the run (warm-up), in MiB per hour. Connections the server closed, gaps and duplicates ' +
    'are reported as measured (not grounds for rejection).',

  async run(ctx, peers, result) {
    const size = firstPayloadSize(ctx)
    for (const peer of peers) result.points.push(await soakPoint(ctx, peer, size))
  },

  tables() {
    return [
      { metric: 'rssDriftMbPerH', title: 'Server RSS drift', unit: 'MiB/h', better: 'lower' },
      { metric: 'rssEndMb', title: 'Server RSS at the end', unit: 'MiB', better: 'lower' },
      { metric: 'closedUnexpected', title: 'Unexpected disconnects', better: 'lower' },
      { metric: 'gaps', title: 'Gaps (missed events)', better: 'lower' },
      { metric: 'p99us', title: 'Latency p99 over the soak', unit: 'µs', better: 'lower' },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 4)
  },

  charts(result: ScenarioResult): Chart[] {
    const series = result.points
      .filter((point) => point.status === 'ok')
      .map((point) => {
        const rss = (point.runs.find((r) => r.valid)?.detail?.rss ?? []) as { t: number; mb: number }[]
        return { name: point.peer, points: rss.map((sample) => [sample.t / 60, sample.mb] as const) }
      })
    return [
      {
        file: 's8-rss-over-time.svg',
        svg: lineChart({
          title: 'S8 server RSS during the soak',
          xLabel: 'minutes',
          yLabel: 'RSS (MiB)',
          series,
        }),
      },
    ]
  },
}
