/**
 * S7 several processes: ssehub with 1, 2 and 3 hub processes sharing a private Redis (and with
 * `--workers 2`, node:cluster on one port), and every peer's own multi-process mode, at S2's
 * closed-loop broadcast. Scaling = max deliveries/s with n processes ÷ with one.
 */
import type { Peer, PeerStartOptions } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import {
  type Chart,
  closedLoopPoint,
  failed,
  firstPayloadSize,
  medianOf,
  rowBarChart,
  type Scenario,
  unsupported,
} from '../scenario.js'

interface Shape {
  row: string
  start: Omit<PeerStartOptions, 'port' | 'cpus'>
  processes: number
  workers?: number
}

const SHAPES: readonly Shape[] = [
  { row: '1 process', start: { processes: 1 }, processes: 1 },
  { row: '2 processes', start: { processes: 2 }, processes: 2 },
  { row: '3 processes', start: { processes: 3 }, processes: 3 },
  { row: '1 process, --workers 2', start: { processes: 1, workers: 2 }, processes: 1, workers: 2 },
]

async function scalePoint(
  ctx: BenchContext,
  peer: Peer,
  shape: Shape,
  subs: number,
  size: number,
): Promise<PointRecord> {
  const params = { subs, size, processes: shape.processes, workers: shape.workers ?? 0 }
  if (shape.workers !== undefined && peer.name !== 'ssehub') {
    return unsupported(peer, shape.row, params, 'ssehub --workers only')
  }
  if (shape.processes > 1 && !peer.supports.multiProcess) {
    return unsupported(peer, shape.row, params, 'no multi-process mode')
  }
  const label = `S7 ${peer.name} ${shape.row}`
  try {
    const redis = await ctx.redis()
    return await ctx.withPeer(peer, { ...shape.start, redisUrl: redis.url }, (running) =>
      closedLoopPoint(
        ctx,
        running,
        { peer: peer.name, row: shape.row, params },
        { subs, channels: 1, size, label, sidePids: [redis.pid] },
      ),
    )
  } catch (error) {
    return failed(peer, shape.row, params, error)
  }
}

export const s7: Scenario = {
  id: 's7',
  title: 'several processes',
  description:
    'S2 closed-loop broadcast with the server spread over several processes (ssehub: hubs on consecutive ports ' +
    'sharing a private redis-server, subscribers spread round-robin, publishes to the first; `--workers 2`: ' +
    "node:cluster on one port; the peers' own multi-process modes). Single-process servers are pinned to CPU 0, " +
    'multi-process servers may use every core (the load generator stays on CPU 1). Scaling = deliveries/s ÷ the ' +
    "same peer's with 1 process. Redis CPU (where the peer uses it) is reported apart.",

  async run(ctx, peers, result) {
    const subs = ctx.options.quick ? 200 : 10_000
    const size = firstPayloadSize(ctx)
    for (const shape of SHAPES) {
      for (const peer of peers) result.points.push(await scalePoint(ctx, peer, shape, subs, size))
    }
    for (const peer of peers) {
      const one = medianOf(
        result.points.find((p) => p.peer === peer.name && p.row === '1 process'),
        'deliveriesPerS',
      )
      for (const point of result.points.filter((p) => p.peer === peer.name && p.status === 'ok')) {
        const value = medianOf(point, 'deliveriesPerS')
        if (one !== undefined && value !== undefined && one > 0) {
          const scaling = value / one
          point.summary.scaling = { median: scaling, min: scaling, max: scaling, n: 1 }
        }
      }
    }
    result.notes.push(
      'ssehub with 1 process runs its in-memory broker (as a single-process deployment would); 2 and 3 processes use Redis.',
    )
  },

  tables() {
    return [
      { metric: 'deliveriesPerS', title: 'Max deliveries per second', better: 'higher' },
      {
        metric: 'scaling',
        title: 'Scaling vs 1 process (deliveries/s ÷ 1-process deliveries/s)',
        better: 'higher',
      },
      {
        metric: 'cpuUsPerDelivery',
        title: 'Server CPU per delivery (all server processes)',
        unit: 'µs',
        better: 'lower',
      },
      { metric: 'redisCpuUsPerDelivery', title: 'Redis CPU per delivery', unit: 'µs', better: 'lower' },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 2)
  },

  charts(result: ScenarioResult): Chart[] {
    return [
      rowBarChart(result, {
        metric: 'deliveriesPerS',
        file: 's7-scaling.svg',
        title: 'S7 max deliveries/s by process count',
        yLabel: 'deliveries/s',
        rows: SHAPES.map((shape) => shape.row),
      }),
    ]
  },
}
