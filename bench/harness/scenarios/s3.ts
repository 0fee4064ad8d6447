/**
 * S3 many channels: the same subscribers spread over 100, 1,000 and 10,000 channels (connection i
 * on channel i mod N); the publisher rotates over the channels, closed loop. Each publish then
 * reaches subs/N subscribers, so the per-publish cost weighs more as N grows.
 */
import type { Peer } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import { type Chart, closedLoopPoint, failed, payloadSizes, rowBarChart, type Scenario } from '../scenario.js'

function shape(ctx: BenchContext): { subs: number; channels: number[] } {
  return ctx.options.quick
    ? { subs: 200, channels: [10, 100, 200] }
    : { subs: 10_000, channels: [100, 1000, 10_000] }
}

function rowOf(subs: number, channels: number, size: number): string {
  return `${subs.toLocaleString('en-US')} subs / ${channels.toLocaleString('en-US')} channels, ${size} B`
}

async function channelPoint(
  ctx: BenchContext,
  peer: Peer,
  subs: number,
  channels: number,
  size: number,
): Promise<PointRecord> {
  const row = rowOf(subs, channels, size)
  const params = { subs, channels, size }
  try {
    const label = `S3 ${peer.name} ${channels} channels ${size} B`
    return await ctx.withPeer(peer, {}, (running) =>
      closedLoopPoint(ctx, running, { peer: peer.name, row, params }, { subs, channels, size, label }),
    )
  } catch (error) {
    return failed(peer, row, params, error)
  }
}

export const s3: Scenario = {
  id: 's3',
  title: 'many channels',
  description:
    'The same subscribers spread over more and more channels (connection i listens to channel i mod N); ' +
    'the publisher rotates over the channels in a closed loop (8 publishes in flight). Deliveries/s at ' +
    'the subscribers, publishes/s, server CPU per delivery, and latency under that closed-loop load.',

  async run(ctx, peers, result) {
    const { subs, channels } = shape(ctx)
    for (const size of payloadSizes(ctx)) {
      for (const n of channels) {
        for (const peer of peers) result.points.push(await channelPoint(ctx, peer, subs, n, size))
      }
    }
  },

  tables() {
    return [
      { metric: 'deliveriesPerS', title: 'Max deliveries per second', better: 'higher' },
      { metric: 'publishesPerS', title: 'Publishes per second', better: 'higher' },
      { metric: 'cpuUsPerDelivery', title: 'Server CPU per delivery', unit: 'µs', better: 'lower' },
      { metric: 'p99us', title: 'Latency p99 under closed-loop load', unit: 'µs', better: 'lower' },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).filter((table) => table.metric !== 'publishesPerS')
  },

  charts(result: ScenarioResult): Chart[] {
    return [
      rowBarChart(result, {
        metric: 'cpuUsPerDelivery',
        file: 's3-cpu-per-delivery.svg',
        title: 'S3 server CPU per delivery by channel count',
        yLabel: 'CPU µs per delivery',
        label: (row) => row.replace(/ subs \/ /, '/').replace(' channels', ' ch'),
      }),
    ]
  },
}
