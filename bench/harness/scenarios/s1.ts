/**
 * S1 idle hold: connections that only receive heartbeats. Server RSS per connection (VmRSS of all
 * server processes, after minus before), kernel socket memory and Slab per connection (machine-
 * wide: both ends of each loopback connection), and the CPU heartbeats cost.
 */
import type { Peer } from '../../peers/types.js'
import type { BenchContext } from '../context.js'
import { sleep, withDeadline } from '../context.js'
import { MIN_CPU_TICKS, watchSub } from '../measure.js'
import { clockTicksPerSecond, sampleKernel, sampleProcesses } from '../proc.js'
import type { MetricTable, ScenarioResult } from '../results.js'
import { failed, rowBarChart, type Scenario, unsupported } from '../scenario.js'
import { invalidReasons } from '../validity.js'

const CONNECT_RATE = 5000

interface Shape {
  conns: number
  processes: number
}

function shapes(ctx: BenchContext): Shape[] {
  return ctx.options.quick
    ? [
        { conns: 200, processes: 1 },
        { conns: 400, processes: 2 },
      ]
    : [
        { conns: 10_000, processes: 1 },
        { conns: 40_000, processes: 4 },
      ]
}

function rowOf(shape: Shape): string {
  return `${shape.conns.toLocaleString('en-US')} conns, ${shape.processes} process${shape.processes > 1 ? 'es' : ''}`
}

async function holdPoint(ctx: BenchContext, peer: Peer, shape: Shape, result: ScenarioResult): Promise<void> {
  const heartbeatMs = ctx.options.quick ? 500 : 1000
  const windowS = ctx.options.quick ? 2 : 10
  const settleMs = ctx.options.quick ? 500 : 2000
  const params = { conns: shape.conns, processes: shape.processes, heartbeatMs }
  const row = rowOf(shape)
  if (shape.processes > 1 && !peer.supports.multiProcess) {
    result.points.push(unsupported(peer, row, params, 'no multi-process mode'))
    return
  }
  const label = `S1 ${peer.name} ${row}`
  const point = await ctx.runPoint({ peer: peer.name, row, params }, ctx.options.runs, async (run) =>
    // A fresh server per run: its memory before the connections is the baseline.
    ctx.withPeer(peer, { processes: shape.processes, heartbeatMs }, async (running) => {
      await sleep(ctx.options.quick ? 300 : 1000)
      const pids = ctx.serverPids(running)
      const before = sampleProcesses(pids)
      const kernelBefore = sampleKernel()
      const connectS = shape.conns / CONNECT_RATE
      const sub = ctx.load.sub({
        targets: running.targets,
        path: running.subscribePath,
        conns: shape.conns,
        channels: 1,
        connectRate: CONNECT_RATE,
        durationS: Math.ceil(connectS * 1.5 + 3 + settleMs / 1000 + windowS),
        reportMs: 500,
      })
      const stopWatching = watchSub(ctx, sub, `${label} run ${run + 1}`)
      try {
        await withDeadline(sub.ready, (connectS + 60) * 1000, `${label}: connections`)
        await sleep(settleMs)
        const held = sampleProcesses(pids)
        const kernelHeld = sampleKernel()
        await sleep(windowS * 1000)
        const end = sampleProcesses(pids)
        const subResult = await withDeadline(
          sub.result,
          (connectS * 1.5 + windowS + 60) * 1000,
          `${label}: end`,
        )
        const reasons = invalidReasons(subResult, undefined, { durationBound: true, expectedPublishes: 0 })
        if (end.pids.length < before.pids.length) reasons.push('a server process exited during the run')
        // Heartbeats as the subscribers saw them (comments and non-benchmark events per connection
        // per second of the run), not as configured: a peer may round the interval or send none.
        const seenPerConn = (subResult.comments + subResult.other) / shape.conns
        const seenRate = seenPerConn / Math.max(0.001, subResult.wall_s - connectS)
        const heartbeats = shape.conns * seenRate * ((end.atMs - held.atMs) / 1000)
        return {
          reasons,
          metrics: {
            rssKbPerConn: (held.rssKb - before.rssKb) / shape.conns,
            // The same after the heartbeat window: whether the server gives back what opening the
            // connections cost (a garbage-collected one may shrink its young generation by then).
            settledRssKbPerConn: (end.rssKb - before.rssKb) / shape.conns,
            baselineRssMb: before.rssKb / 1024,
            heldRssMb: held.rssKb / 1024,
            kernelTcpKbPerConn: (kernelHeld.tcpMemKb - kernelBefore.tcpMemKb) / shape.conns,
            slabKbPerConn: (kernelHeld.slabKb - kernelBefore.slabKb) / shape.conns,
            heartbeatCpuShare: (end.cpuS - held.cpuS) / ((end.atMs - held.atMs) / 1000),
            heartbeatCpuUsPerBeat:
              seenPerConn >= 2 && (end.cpuS - held.cpuS) * clockTicksPerSecond() >= MIN_CPU_TICKS
                ? ((end.cpuS - held.cpuS) * 1e6) / heartbeats
                : null,
            heartbeatsSeenPerConn: seenPerConn,
          },
          detail: { sub: subResult, pids: before.pids },
        }
      } finally {
        stopWatching()
        sub.kill()
        await sub.result.catch(() => undefined)
      }
    }),
  )
  result.points.push(point)
}

export const s1: Scenario = {
  id: 's1',
  title: 'idle hold',
  description:
    'Idle connections receiving only heartbeats. RSS per connection: VmRSS summed over every server process ' +
    'with the connections open minus before they opened, divided by the connections; read 2 s after the ' +
    'last connection opened, and again at the end of the 10 s heartbeat window. Kernel TCP memory ' +
    '(/proc/net/sockstat `mem`) and Slab (/proc/meminfo) are machine-wide deltas: on loopback they count ' +
    "**both ends** of each connection (the load generator's sockets too) and anything else the machine did " +
    'meanwhile. Heartbeat CPU: server CPU over a window with every connection open (heartbeat interval asked: ' +
    '1 s), per heartbeat the subscribers actually received (n/a when a peer sent fewer than 2 per connection).',

  async run(ctx, peers, result) {
    for (const shape of shapes(ctx)) {
      for (const peer of peers) {
        try {
          await holdPoint(ctx, peer, shape, result)
        } catch (error) {
          result.points.push(
            failed(peer, rowOf(shape), { conns: shape.conns, processes: shape.processes }, error),
          )
        }
      }
    }
    result.notes.push(
      'Kernel figures (TCP mem, Slab) count both ends of every loopback connection and are machine-wide.',
    )
  },

  tables() {
    return [
      {
        metric: 'rssKbPerConn',
        title: 'Server RSS per idle connection, 2 s after the last one opened',
        unit: 'KiB',
        better: 'lower',
      },
      {
        metric: 'settledRssKbPerConn',
        title: 'Server RSS per idle connection, after 10 more seconds of heartbeats',
        unit: 'KiB',
        better: 'lower',
      },
      {
        metric: 'kernelTcpKbPerConn',
        title: 'Kernel TCP socket memory per connection (both ends)',
        unit: 'KiB',
        better: 'lower',
      },
      {
        metric: 'slabKbPerConn',
        title: 'Kernel Slab per connection (both ends)',
        unit: 'KiB',
        better: 'lower',
      },
      {
        metric: 'heartbeatCpuUsPerBeat',
        title: 'Server CPU per heartbeat received',
        unit: 'µs',
        better: 'lower',
      },
      {
        metric: 'heartbeatCpuShare',
        title: 'Server CPU while idle with heartbeats',
        unit: 'cores',
        better: 'lower',
      },
      {
        metric: 'heartbeatsSeenPerConn',
        title: 'Heartbeats (comments or other events) each connection received over the whole run',
      },
      { metric: 'baselineRssMb', title: 'Server RSS before any connection', unit: 'MiB', better: 'lower' },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 5)
  },

  charts(result) {
    return [
      rowBarChart(result, {
        metric: 'rssKbPerConn',
        file: 's1-rss-per-connection.svg',
        title: 'S1 server RSS per idle connection',
        yLabel: 'KiB per connection',
      }),
      rowBarChart(result, {
        metric: 'heartbeatCpuUsPerBeat',
        file: 's1-heartbeat-cpu.svg',
        title: 'S1 server CPU per heartbeat',
        yLabel: 'µs per heartbeat',
      }),
    ]
  },
}
