/**
 * The benchmark harness: `npm run bench -- <scenario> [options]`.
 *
 *   scenario  s1 (idle hold) | s2 (broadcast) | s3 (many channels) | s4 (bursts, syscalls) |
 *             s5 (replay storm) | s6 (slow consumers) | s7 (several processes) | s8 (soak) | all
 *   --peers ssehub,nchan,better-sse,node-http,flask-sse   (default: every peer)
 *   --runs N          runs per point, median reported (default 3; 1 with --quick)
 *   --size 100|1024   payload size (default: both where the scenario measures both; 100 with --quick)
 *   --quick           tiny scale, one run: checks that everything works, measures nothing worth quoting
 *   --out DIR         where results go (default bench/results)
 *   --duration SEC    S8 soak length (default 1800; 5 with --quick)
 *   --no-install      do not install missing peers (only use what is there)
 *
 * Writes <out>/<scenario>.json, <out>/<scenario>.md and <out>/*.svg; `all` also <out>/summary.md.
 * Servers run on CPU 0, the load generator and publisher on CPU 1 (2+ cores). Loopback only.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BenchContext, type BenchOptions, withDeadline } from './harness/context.js'
import { createLoadGenerator } from './harness/load.js'
import { createProgress, type Progress } from './harness/progress.js'
import { metricTable, type PeerStatus, type ScenarioResult, scenarioMarkdown } from './harness/results.js'
import type { Scenario } from './harness/scenario.js'
import { s1 } from './harness/scenarios/s1.js'
import { s2 } from './harness/scenarios/s2.js'
import { s3 } from './harness/scenarios/s3.js'
import { s4 } from './harness/scenarios/s4.js'
import { s5 } from './harness/scenarios/s5.js'
import { s6 } from './harness/scenarios/s6.js'
import { s7 } from './harness/scenarios/s7.js'
import { s8 } from './harness/scenarios/s8.js'
import { PEERS } from './peers/index.js'
import type { Peer } from './peers/types.js'

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: readonly Scenario[] = [s1, s2, s3, s4, s5, s6, s7, s8]

const USAGE = `usage: npm run bench -- <s1|s2|s3|s4|s5|s6|s7|s8|all> [--peers a,b] [--runs N] [--size 100|1024] [--quick] [--out DIR] [--duration SEC] [--no-install]`

/** Parses the command line; throws with the usage on a mistake. */
export function parseBenchArgs(argv: readonly string[]): { scenarios: Scenario[]; options: BenchOptions } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      peers: { type: 'string' },
      runs: { type: 'string' },
      size: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      duration: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help || positionals.length !== 1) throw new Error(USAGE)
  const name = (positionals[0] as string).toLowerCase()
  const scenarios = name === 'all' ? [...SCENARIOS] : SCENARIOS.filter((s) => s.id === name)
  if (scenarios.length === 0) throw new Error(`unknown scenario ${name}\n${USAGE}`)
  const quick = values.quick ?? false
  const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs must be an integer in 1..50`)
  let sizes: number[]
  if (values.size === undefined) sizes = quick ? [100] : [100, 1024]
  else {
    const size = Number(values.size)
    if (size !== 100 && size !== 1024) throw new Error('--size must be 100 or 1024')
    sizes = [size]
  }
  let durationS: number | undefined
  if (values.duration !== undefined) {
    durationS = Number(values.duration)
    if (!Number.isInteger(durationS) || durationS < 1 || durationS > 86_400) {
      throw new Error('--duration must be whole seconds in 1..86400')
    }
  }
  const names = values.peers
    ?.split(',')
    .map((peer) => peer.trim())
    .filter((peer) => peer !== '')
  for (const peer of names ?? []) {
    if (!PEERS.some((p) => p.name === peer)) {
      throw new Error(`unknown peer ${peer} (known: ${PEERS.map((p) => p.name).join(', ')})`)
    }
  }
  return {
    scenarios,
    options: {
      peers: names,
      runs,
      sizes,
      quick,
      out: resolve(values.out ?? 'bench/results'),
      durationS,
      install: !(values['no-install'] ?? false),
    },
  }
}

/** Checks (and unless --no-install, installs) each selected peer; unavailable ones are reported, not fatal. */
async function preparePeers(
  options: BenchOptions,
  progress: Progress,
): Promise<{ usable: Peer[]; statuses: PeerStatus[] }> {
  const selected =
    options.peers === undefined ? [...PEERS] : PEERS.filter((peer) => options.peers?.includes(peer.name))
  const usable: Peer[] = []
  const statuses: PeerStatus[] = []
  for (const peer of selected) {
    let reason: string | undefined
    try {
      if (options.install) {
        progress.status(`installing/checking ${peer.name}`)
        await withDeadline(peer.install(), 900_000, `${peer.name} install`)
      }
      reason = await withDeadline(peer.available(), 60_000, `${peer.name} availability`)
    } catch (error) {
      reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    }
    statuses.push({
      name: peer.name,
      label: peer.label,
      available: reason === undefined,
      ...(reason ? { reason } : {}),
    })
    if (reason === undefined) usable.push(peer)
    else progress.log(`NOTE: skipping ${peer.name}: ${reason}`)
  }
  return { usable, statuses }
}

function machine(ctx: BenchContext): Record<string, string | number> {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const { server, load } = ctx.pinning
  return {
    cpu: `${ctx.pinning.cpus} × ${cpu.trim()}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: `Linux ${release()}`,
    node: process.version,
    pinning:
      server === undefined ? 'none (1 core)' : `server on CPU ${server}, load generator on CPU ${load}`,
  }
}

async function runScenario(
  ctx: BenchContext,
  scenario: Scenario,
  peers: readonly Peer[],
  statuses: readonly PeerStatus[],
): Promise<{ result: ScenarioResult; markdownPath: string }> {
  const { options, progress } = ctx
  progress.log(
    `== ${scenario.id.toUpperCase()} ${scenario.title} (${peers.map((p) => p.name).join(', ') || 'no peers'})`,
  )
  const result: ScenarioResult = {
    scenario: scenario.id,
    title: scenario.title,
    description: scenario.description,
    notes: [],
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: machine(ctx),
    options: {
      runs: options.runs,
      sizes: options.sizes,
      quick: options.quick,
      ...(options.durationS !== undefined ? { durationS: options.durationS } : {}),
    },
    peers: statuses.map((status) => ({ ...status })),
    points: [],
    charts: [],
  }
  if (options.quick)
    result.notes.push('--quick: tiny scale and one run; these numbers only show that the harness works.')
  await scenario.run(ctx, peers, result)
  for (const point of result.points.filter((p) => p.status === 'unsupported' || p.status === 'error')) {
    progress.log(
      `  ${point.peer.padEnd(10)} ${point.row}: ${point.status === 'error' ? 'ERROR' : 'not supported'} (${point.note ?? ''})`,
    )
  }
  result.finishedAt = new Date().toISOString()
  mkdirSync(options.out, { recursive: true })
  for (const chart of scenario.charts(result)) {
    writeFileSync(join(options.out, chart.file), chart.svg)
    result.charts.push(chart.file)
  }
  writeFileSync(join(options.out, `${scenario.id}.json`), `${JSON.stringify(result, null, 2)}\n`)
  const markdownPath = join(options.out, `${scenario.id}.md`)
  writeFileSync(markdownPath, scenarioMarkdown(result, scenario.tables(result)))
  progress.log(`   wrote ${join(options.out, scenario.id)}.{json,md} and ${result.charts.length} plots`)
  return { result, markdownPath }
}

function summaryMarkdown(done: readonly { scenario: Scenario; result: ScenarioResult }[]): string {
  const parts = ['# Benchmark summary', '']
  const first = done[0]?.result
  if (first) {
    parts.push(
      `Machine: ${Object.entries(first.machine)
        .map(([key, value]) => `${key} ${value}`)
        .join(', ')}. Cells: median (min–max) over ${String(first.options.runs)} runs.`,
      '',
    )
    for (const peer of first.peers.filter((p) => !p.available)) {
      parts.push(`> **${peer.name} skipped:** ${peer.reason ?? 'unavailable'}`, '')
    }
  }
  for (const { scenario, result } of done) {
    parts.push(
      `## ${scenario.id.toUpperCase()}: ${scenario.title}`,
      '',
      `Details: [${scenario.id}.md](${scenario.id}.md)`,
      '',
    )
    for (const table of scenario.summaryTables(result)) {
      const text = metricTable(result, table)
      if (text) parts.push(text)
    }
  }
  return parts.join('\n')
}

/** Runs the harness; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>
  try {
    parsed = parseBenchArgs(argv)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    return 1
  }
  const { scenarios, options } = parsed
  const progress = createProgress()
  const load = await createLoadGenerator()
  const ctx = new BenchContext(options, progress, load)
  load.pin(ctx.pinning.load)
  const interrupt = (): void => {
    progress.log('interrupted: stopping servers')
    void ctx.close().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const { usable, statuses } = await preparePeers(options, progress)
    const done: { scenario: Scenario; result: ScenarioResult }[] = []
    for (const scenario of scenarios) {
      const { result, markdownPath } = await runScenario(ctx, scenario, usable, statuses)
      done.push({ scenario, result })
      if (scenarios.length === 1) progress.log(`   see ${markdownPath}`)
    }
    if (scenarios.length > 1) {
      writeFileSync(join(options.out, 'summary.md'), summaryMarkdown(done))
      progress.log(`wrote ${join(options.out, 'summary.md')}`)
    }
    return 0
  } catch (error) {
    progress.log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return 1
  } finally {
    progress.done()
    await ctx.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2))
}
