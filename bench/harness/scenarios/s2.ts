/**
 * S2 broadcast fan-out: N subscribers on one channel. Closed loop first (publishes as fast as the
 * server answers) for the maximum deliveries/s and the server CPU per delivery; then single
 * publishes at a low rate for the time one publish takes to reach everyone; then open loop at
 * 25/50/75% of that peer's own maximum for p50/p99 latency.
 */
import type { Peer } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import type { MetricTable, PointRecord } from '../results.js'
import {
  availablePeers,
  type Chart,
  closedLoopPoint,
  failed,
  fanoutPoint,
  medianOf,
  payloadSizes,
  type Scenario,
  where,
} from '../scenario.js'
import { barChart, lineChart } from '../svg-chart.js'

const LOADS = [0.25, 0.5, 0.75] as const

/**
 * One more open-loop point at the same offered load for every peer: a share of each peer's own
 * maximum is a different load for each (ssehub's 50% is several times nchan's), so latencies
 * taken there compare unequal work. 40,000 deliveries/s is about half of nchan's measured maximum
 * at 10,000 subscribers (S2, this machine), and well within every peer but Flask-SSE at 1,000.
 */
export const SAME_LOAD_DELIVERIES_PER_S = 40_000

/** Subscriber counts: 1k and 10k, or the list in `SSEHUB_BENCH_S2_SUBS` (e.g. `10000`), to rerun one. */
function subsCounts(ctx: BenchContext): number[] {
  if (ctx.options.quick) return [100]
  const only = process.env.SSEHUB_BENCH_S2_SUBS
  if (only !== undefined && only !== '') return only.split(',').map((count) => Number(count))
  return [1000, 10000]
}

function rowOf(subs: number, size: number, load: string): string {
  return `${subs.toLocaleString('en-US')} subs, ${size} B${load === '' ? '' : `, ${load}`}`
}

/** Measures one peer at one (subs, size): max, single publish, open loop at each load. */
export async function broadcastPoints(
  ctx: BenchContext,
  peer: Peer,
  subs: number,
  size: number,
  extra: { stallFraction?: number } = {},
): Promise<PointRecord[]> {
  const runs = ctx.options.runs
  const points: PointRecord[] = []
  const label = `S2 ${peer.name} ${subs} subs ${size} B`
  const base = { subs, size }
  try {
    await ctx.withPeer(peer, {}, async (running) => {
      /** One open-loop point: `publishes` at `rate` per second, its runs labelled by `what`. */
      const openLoop = (point: {
        row: string
        params: PointRecord['params']
        what: string
        publishes: number
        rate: number
        more: { stallFraction?: number }
      }): Promise<PointRecord> =>
        fanoutPoint(ctx, running, { peer: peer.name, row: point.row, params: point.params }, runs, (run) => ({
          subs,
          channels: 1,
          size,
          publishes: point.publishes,
          mode: 'open',
          rate: point.rate,
          label: `${label} ${point.what} run ${run + 1}`,
          ...point.more,
        }))
      const max = await closedLoopPoint(
        ctx,
        running,
        { peer: peer.name, row: rowOf(subs, size, 'max'), params: { ...base, load: 'max' } },
        { subs, channels: 1, size, label, runLabel: `${label} max` },
      )
      points.push(max)
      // One publish at a time, far apart: how long until the last subscriber has it.
      const singleRate = ctx.options.quick ? 20 : 5
      points.push(
        await openLoop({
          row: rowOf(subs, size, 'single'),
          params: { ...base, load: 'single', rate: singleRate },
          what: 'single publishes',
          publishes: ctx.options.quick ? 10 : 20,
          rate: singleRate,
          more: {},
        }),
      )
      const maxDeliveries = medianOf(max, 'deliveriesPerS')
      if (!ctx.options.quick) {
        const rate = Math.max(1, Math.round(SAME_LOAD_DELIVERIES_PER_S / subs))
        points.push(
          await openLoop({
            row: rowOf(
              subs,
              size,
              `same load (${SAME_LOAD_DELIVERIES_PER_S.toLocaleString('en-US')} deliveries/s)`,
            ),
            params: { ...base, load: 'same', rate },
            what: 'same load',
            publishes: Math.max(10, rate * 10),
            rate,
            more: extra,
          }),
        )
      }
      for (const load of LOADS) {
        const row = rowOf(subs, size, `${load * 100}%`)
        const params = { ...base, load: `${load * 100}%` }
        if (maxDeliveries === undefined) {
          points.push({
            peer: peer.name,
            row,
            params,
            status: 'invalid',
            note: 'no valid maximum to take a share of',
            runs: [],
            summary: {},
          })
          continue
        }
        const rate = Math.max(1, Math.round((maxDeliveries * load) / subs))
        const seconds = ctx.options.quick ? 2 : 10
        points.push(
          await openLoop({
            row,
            params: { ...params, rate },
            what: `${load * 100}%`,
            publishes: Math.max(10, Math.round(rate * seconds)),
            rate,
            more: extra,
          }),
        )
      }
    })
  } catch (error) {
    points.push(failed(peer, rowOf(subs, size, 'max'), { ...base, load: 'max' }, error))
  }
  return points
}

export const s2: Scenario = {
  id: 's2',
  title: 'broadcast fan-out',
  description:
    'Subscribers on one channel; one publisher. **max**: closed loop (8 publishes in flight), deliveries/s ' +
    'counted at the subscribers and server CPU (utime+stime from /proc) per delivery. **single**: one publish ' +
    'every 200 ms, time until every subscriber has it (reach-all). **25/50/75%**: open loop at that share of ' +
    "the peer's own maximum; latency is publish (scheduled send time) to receive.",

  async run(ctx, peers, result) {
    for (const subs of subsCounts(ctx)) {
      for (const size of payloadSizes(ctx)) {
        for (const peer of peers) result.points.push(...(await broadcastPoints(ctx, peer, subs, size)))
      }
    }
  },

  tables() {
    const tables: MetricTable[] = [
      {
        metric: 'deliveriesPerS',
        title: 'Max deliveries per second',
        better: 'higher',
        filter: where({ load: 'max' }),
      },
      {
        metric: 'cpuUsPerDelivery',
        title: 'Server CPU per delivery at max',
        unit: 'µs',
        better: 'lower',
        filter: where({ load: 'max' }),
      },
      {
        metric: 'cpuUsPerDelivery',
        title: 'Server CPU per delivery at 50% load',
        unit: 'µs',
        better: 'lower',
        filter: where({ load: '50%' }),
      },
      {
        metric: 'reachAllP50us',
        title: 'Time for one publish to reach every subscriber, p50',
        unit: 'µs',
        better: 'lower',
        filter: where({ load: 'single' }),
      },
      {
        metric: 'reachAllP99us',
        title: 'Time for one publish to reach every subscriber, p99',
        unit: 'µs',
        better: 'lower',
        filter: where({ load: 'single' }),
      },
    ]
    for (const metric of ['p50us', 'p99us'] as const) {
      tables.push({
        metric,
        title: `Latency ${metric.slice(0, 3)} at 25/50/75% of each peer's max`,
        unit: 'µs',
        better: 'lower',
        filter: (point) => typeof point.params.load === 'string' && point.params.load.endsWith('%'),
      })
    }
    for (const metric of ['p50us', 'p99us', 'cpuUsPerDelivery'] as const) {
      tables.push({
        metric,
        title: `${metric === 'cpuUsPerDelivery' ? 'Server CPU per delivery' : `Latency ${metric.slice(0, 3)}`} at the same load for every peer (${SAME_LOAD_DELIVERIES_PER_S.toLocaleString('en-US')} deliveries/s)`,
        unit: 'µs',
        better: 'lower',
        filter: where({ load: 'same' }),
      })
    }
    tables.push({
      metric: 'deliveriesPerS',
      title: 'Deliveries per second offered at 25/50/75% load',
      filter: (point) => typeof point.params.load === 'string' && point.params.load.endsWith('%'),
    })
    return tables
  },

  summaryTables(result) {
    return this.tables(result).filter(
      (table) =>
        table.title.startsWith('Max') ||
        table.title.endsWith('at max') ||
        table.title.includes('p99 at') ||
        table.title.includes('same load') ||
        table.title.endsWith('p50'),
    )
  },

  charts(result) {
    const charts: Chart[] = []
    const combos = [...new Set(result.points.map((point) => `${point.params.subs}/${point.params.size}`))]
    const peers = availablePeers(result)
    for (const combo of combos) {
      const [subs, size] = combo.split('/')
      charts.push({
        file: `s2-latency-${subs}-${size}.svg`,
        svg: lineChart({
          title: `S2 p99 latency vs load, ${subs} subscribers, ${size} B`,
          xLabel: "load (% of the peer's own max deliveries/s)",
          yLabel: 'p99 latency (µs, log)',
          logY: true,
          series: peers.map((name) => ({
            name,
            points: LOADS.map((load) => {
              const point = result.points.find(
                (p) =>
                  p.peer === name &&
                  String(p.params.subs) === subs &&
                  String(p.params.size) === size &&
                  p.params.load === `${load * 100}%`,
              )
              return [load * 100, medianOf(point, 'p99us') ?? Number.NaN] as const
            }),
          })),
        }),
      })
    }
    const groups = (metric: string) =>
      combos.map((combo) => {
        const [subs, size] = combo.split('/')
        return {
          label: `${subs} subs, ${size} B`,
          bars: peers.map((name) => ({
            name,
            value: medianOf(
              result.points.find(
                (p) =>
                  p.peer === name &&
                  String(p.params.subs) === subs &&
                  String(p.params.size) === size &&
                  p.params.load === 'max',
              ),
              metric,
            ),
          })),
        }
      })
    charts.push({
      file: 's2-cpu-per-delivery.svg',
      svg: barChart({
        title: 'S2 server CPU per delivery at max load',
        yLabel: 'CPU µs per delivery',
        groups: groups('cpuUsPerDelivery'),
      }),
    })
    charts.push({
      file: 's2-max-deliveries.svg',
      svg: barChart({
        title: 'S2 max deliveries per second',
        yLabel: 'deliveries/s',
        groups: groups('deliveriesPerS'),
      }),
    })
    return charts
  },
}
