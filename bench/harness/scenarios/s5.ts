/**
 * S5 replay storm: 200 events published on channel 0 (one recording subscriber notes each event's
 * id), then N clients connect at once with the id of event 100 as Last-Event-ID and must each
 * receive events 101..200 from the server's history. `complete_s`: from the burst until every
 * client has its 100 events.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Peer, RunningPeer } from '../../peers/types.js'
import { type BenchContext, sleep, withDeadline } from '../context.js'
import { watchSub } from '../measure.js'
import { sampleProcesses } from '../proc.js'
import type { MetricTable, PointRecord, ScenarioResult } from '../results.js'
import { type Chart, failed, firstPayloadSize, rowBarChart, type Scenario, unsupported } from '../scenario.js'
import { invalidReasons } from '../validity.js'

const HISTORY = 200
const REPLAYED = 100

/** The id recorded for `seq` in a `--record-ids` file (`<seq> <id>` lines). */
export function idForSeq(text: string, seq: number): string | undefined {
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ')
    if (space > 0 && Number(line.slice(0, space)) === seq) return line.slice(space + 1).trim()
  }
  return undefined
}

/** Publishes 200 events on channel 0 while one subscriber records their ids; returns the id of event 100. */
async function seedHistory(
  ctx: BenchContext,
  running: RunningPeer,
  size: number,
  label: string,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-bench-ids-'))
  const file = join(dir, 'ids.txt')
  try {
    const recorder = ctx.load.sub({
      targets: running.targets.slice(0, 1),
      path: running.subscribePath,
      conns: 1,
      channels: 1,
      durationS: 60,
      untilEvents: HISTORY,
      recordIds: file,
      reportMs: 200,
    })
    await withDeadline(recorder.ready, 30_000, `${label}: recorder`)
    const pub = await withDeadline(
      ctx.load.pub({
        ...running.publish,
        size,
        channels: 1,
        mode: 'closed',
        window: 1,
        conns: 1,
        count: HISTORY,
        durationS: 50,
      }),
      60_000,
      `${label}: seeding publisher`,
    )
    const recorded = await withDeadline(recorder.result, 70_000, `${label}: recorder result`)
    const reasons = invalidReasons(recorded, pub, { expectedPublishes: HISTORY })
    if (reasons.length > 0) throw new Error(`seeding the history failed: ${reasons.join('; ')}`)
    const id = idForSeq(readFileSync(file, 'utf8'), REPLAYED)
    if (id === undefined || id === '') throw new Error(`no id recorded for event ${REPLAYED}`)
    return id
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function shape(ctx: BenchContext): { conns: number } {
  return ctx.options.quick ? { conns: 200 } : { conns: 5000 }
}

async function stormPoint(ctx: BenchContext, peer: Peer, size: number): Promise<PointRecord> {
  const { conns } = shape(ctx)
  const row = `${conns.toLocaleString('en-US')} clients replaying ${REPLAYED} events, ${size} B`
  const params = { conns, size, replayed: REPLAYED }
  if (!peer.supports.replay) return unsupported(peer, row, params, 'no event history / Last-Event-ID replay')
  const label = `S5 ${peer.name}`
  try {
    return await ctx.withPeer(peer, { historySize: 1000 }, async (running) => {
      const lastEventId = await seedHistory(ctx, running, size, label)
      await sleep(ctx.options.quick ? 200 : 1000)
      return ctx.runPoint(
        { peer: peer.name, row, params: { ...params, lastEventId } },
        ctx.options.runs,
        async (run) => {
          const pids = ctx.serverPids(running)
          const before = sampleProcesses(pids)
          const storm = ctx.load.sub({
            targets: running.targets,
            path: running.subscribePath,
            conns,
            channels: 1,
            connectRate: 0,
            lastEventId,
            untilEvents: REPLAYED,
            durationS: 60,
            reportMs: 200,
          })
          const stopWatching = watchSub(ctx, storm, `${label} storm run ${run + 1}`)
          try {
            const result = await withDeadline(storm.result, 90_000, `${label}: storm`)
            const after = sampleProcesses(pids)
            const reasons = invalidReasons(result, undefined, {})
            if (result.complete_s === null) reasons.push('the storm did not complete')
            return {
              reasons,
              metrics: {
                completeS: result.complete_s,
                serverCpuS: after.cpuS - before.cpuS,
                replayedEvents: result.events,
                cpuUsPerReplayedEvent:
                  result.events > 0 ? ((after.cpuS - before.cpuS) * 1e6) / result.events : null,
              },
              detail: { sub: result },
            }
          } finally {
            stopWatching()
            storm.kill()
            await storm.result.catch(() => undefined)
          }
        },
      )
    })
  } catch (error) {
    return failed(peer, row, params, error)
  }
}

export const s5: Scenario = {
  id: 's5',
  title: 'replay storm',
  description:
    `${HISTORY} events are published on one channel (a recording subscriber notes their ids); then every client ` +
    `connects at once (no connect pacing) with the id of event ${REPLAYED} as Last-Event-ID and must receive events ` +
    `${REPLAYED + 1}..${HISTORY} from the server's history, in order and without gaps. complete_s: from the burst ` +
    'until every client has them. Peers without an event history cannot take part.',

  async run(ctx, peers, result) {
    const size = firstPayloadSize(ctx)
    for (const peer of peers) result.points.push(await stormPoint(ctx, peer, size))
  },

  tables() {
    return [
      { metric: 'completeS', title: 'Replay storm completion time', unit: 's', better: 'lower' },
      { metric: 'serverCpuS', title: 'Server CPU for the whole storm', unit: 's', better: 'lower' },
      {
        metric: 'cpuUsPerReplayedEvent',
        title: 'Server CPU per replayed event',
        unit: 'µs',
        better: 'lower',
      },
    ] satisfies MetricTable[]
  },

  summaryTables(result) {
    return this.tables(result).slice(0, 1)
  },

  charts(result: ScenarioResult): Chart[] {
    return [
      rowBarChart(result, {
        metric: 'completeS',
        file: 's5-replay-storm.svg',
        title: 'S5 replay storm completion time',
        yLabel: 'seconds',
      }),
    ]
  },
}
