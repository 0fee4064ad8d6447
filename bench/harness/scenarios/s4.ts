/**
 * S4 bursts: the publisher sends B events back to back per tick, so each subscriber gets several
 * events per tick (room for the server to coalesce writes). Syscalls per delivery come from
 * `strace -c -f` attached to every server process for a fixed window; strace slows the server, so
 * CPU per delivery and latency come from a separate run without it.
 */
import type { Peer } from '../../peers/types.js'
import { type BenchContext, sleep } from '../context.js'
import type { SubProgress } from '../load-types.js'
import { measureFanout } from '../measure.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import {
  type Chart,
  failed,
  fanoutPoint,
  payloadSizes,
  rowBarChart,
  type Scenario,
  where,
} from '../scenario.js'
import { attachStrace, type SyscallCounts } from '../strace.js'

/** Events received by `atMs`, interpolated between the progress lines around it. */
export function eventsAt(progress: readonly SubProgress[], atMs: number): number | undefined {
  let before: SubProgress | undefined
  let after: SubProgress | undefined
  for (const line of progress) {
    if (line.atMs <= atMs) before = line
    else {
      after = line
      break
    }
  }
  if (before === undefined) return after === undefined ? undefined : 0
  if (after === undefined) return before.events
  const share = (atMs - before.atMs) / (after.atMs - before.atMs)
  return before.events + (after.events - before.events) * share
}

function shape(ctx: BenchContext): {
  subs: number
  burst: number
  rate: number
  cpuS: number
  straceS: number
} {
  // 1,000 subscribers × 200 publishes/s = 200k deliveries/s, in 20 bursts of 10 per second.
  return ctx.options.quick
    ? { subs: 50, burst: 5, rate: 50, cpuS: 2, straceS: 1 }
    : // 40 publishes/s to 1,000 subscribers is 40,000 deliveries/s, S2's same load for every peer:
      // 200/s was past the maximum of better-sse, node:http and Flask-SSE (S2), whose runs then
      // failed on unanswered publishes instead of measuring syscalls.
      { subs: 1000, burst: 10, rate: 40, cpuS: 5, straceS: 3 }
}

function rowOf(subs: number, burst: number, rate: number, size: number): string {
  return `${subs.toLocaleString('en-US')} subs, ${rate}/s in bursts of ${burst}, ${size} B`
}

async function burstPoints(ctx: BenchContext, peer: Peer, size: number): Promise<PointRecord[]> {
  const { subs, burst, rate, cpuS, straceS } = shape(ctx)
  const row = rowOf(subs, burst, rate, size)
  const params = { subs, burst, rate, size }
  const label = `S4 ${peer.name} ${size} B`
  const points: PointRecord[] = []
  try {
    await ctx.withPeer(peer, {}, async (running) => {
      points.push(
        await fanoutPoint(
          ctx,
          running,
          { peer: peer.name, row, params: { ...params, kind: 'cpu' } },
          ctx.options.runs,
          (run) => ({
            subs,
            channels: 1,
            size,
            publishes: rate * cpuS,
            mode: 'open',
            rate,
            burst,
            label: `${label} run ${run + 1}`,
          }),
        ),
      )
      points.push(
        await ctx.runPoint(
          { peer: peer.name, row, params: { ...params, kind: 'strace' } },
          ctx.options.runs,
          async (run) => {
            let counts: SyscallCounts | undefined
            let window: { deliveries: number; seconds: number } | undefined
            const warmupMs = ctx.options.quick ? 300 : 1000
            const outcome = await measureFanout(ctx, running, {
              subs,
              channels: 1,
              size,
              publishes: rate * (straceS * 3 + 3),
              mode: 'open',
              rate,
              burst,
              label: `${label} strace run ${run + 1}`,
              onPublishing: async (sub, pids) => {
                await sleep(warmupMs)
                const session = attachStrace(pids)
                await session.attached
                const from = performance.now()
                await sleep(straceS * 1000)
                const to = performance.now()
                counts = await session.stop()
                // One more progress line after the window, to interpolate the end.
                await sleep(250)
                const e0 = eventsAt(sub.progress, from)
                const e1 = eventsAt(sub.progress, to)
                if (e0 !== undefined && e1 !== undefined)
                  window = { deliveries: e1 - e0, seconds: (to - from) / 1000 }
              },
            })
            const reasons = [...outcome.reasons]
            if (counts === undefined || window === undefined) reasons.push('no strace window measured')
            else if (window.deliveries <= 0) reasons.push('no deliveries during the strace window')
            const deliveries = window?.deliveries ?? 0
            return {
              reasons,
              metrics: {
                syscallsPerDelivery: counts && deliveries > 0 ? counts.total / deliveries : null,
                writesPerDelivery: counts && deliveries > 0 ? counts.writes / deliveries : null,
                straceWindowDeliveries: deliveries,
                straceSyscalls: counts?.total ?? null,
              },
              detail: { syscalls: counts?.calls, window, sub: outcome.sub, pub: outcome.pub },
            }
          },
        ),
      )
    })
  } catch (error) {
    points.push(failed(peer, row, { ...params, kind: 'cpu' }, error))
  }
  return points
}

export const s4: Scenario = {
  id: 's4',
  title: 'bursts and syscalls',
  description:
    'Open-loop publishing in bursts (B events back to back per tick), one channel. Syscalls per delivery: ' +
    '`strace -c -f` attached to every server process (all threads) for a fixed window; all syscalls in the ' +
    'window divided by the events the subscribers received in it (interpolated from their progress lines), ' +
    'and write-family syscalls (write, writev, send*, …) alone. strace slows the server a lot, so CPU per ' +
    'delivery and latency come from a separate run without strace.',

  async run(ctx, peers, result) {
    for (const size of payloadSizes(ctx)) {
      for (const peer of peers) result.points.push(...(await burstPoints(ctx, peer, size)))
    }
  },

  tables() {
    return [
      {
        metric: 'syscallsPerDelivery',
        title: 'Syscalls per delivery (strace window)',
        better: 'lower',
        filter: where({ kind: 'strace' }),
      },
      {
        metric: 'writesPerDelivery',
        title: 'Write-family syscalls per delivery',
        better: 'lower',
        filter: where({ kind: 'strace' }),
      },
      {
        metric: 'cpuUsPerDelivery',
        title: 'Server CPU per delivery (run without strace)',
        unit: 'µs',
        better: 'lower',
        filter: where({ kind: 'cpu' }),
      },
      {
        metric: 'p99us',
        title: 'Latency p99 (run without strace)',
        unit: 'µs',
        better: 'lower',
        filter: where({ kind: 'cpu' }),
      },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 3)
  },

  charts(result: ScenarioResult): Chart[] {
    return [
      rowBarChart(result, {
        metric: 'syscallsPerDelivery',
        file: 's4-syscalls-per-delivery.svg',
        title: 'S4 syscalls per delivery (bursts)',
        yLabel: 'syscalls per delivery',
        label: (row) => row.split(', ').pop() ?? row,
        where: where({ kind: 'strace' }),
      }),
    ]
  },
}
