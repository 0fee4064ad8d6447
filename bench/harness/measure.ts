/**
 * The measurement every fan-out scenario is made of: subscribers connect and report ready, then a
 * publisher sends a known number of events (closed loop: as fast as the server answers; open
 * loop: at a fixed rate, optionally in bursts), the subscribers stop once each has every event of
 * its channel, and the server's CPU time is read from /proc around the publishing window.
 */
import type { RunningPeer } from '../peers/types.js'
import { type Attempt, type BenchContext, sleep, withDeadline } from './context.js'
import type { PubResult, SubResult, SubRun } from './load-types.js'
import { clockTicksPerSecond, type ProcessSample, sampleProcesses } from './proc.js'
import { invalidReasons, type ValidityRules } from './validity.js'

/** One fan-out measurement. */
export interface FanoutSpec {
  subs: number
  channels: number
  size: number
  /** Total publishes, rounded up to a multiple of `channels` so every channel gets the same count. */
  publishes: number
  mode: 'closed' | 'open'
  /** Open loop: publishes per second overall. */
  rate?: number
  burst?: number
  window?: number
  stallFraction?: number
  /** Sample the server's RSS at this interval during the publishing window (S6). */
  rssEveryMs?: number
  /** Extra validity tolerances. */
  rules?: ValidityRules
  /** Called once the publisher has started (S4 attaches strace here). */
  onPublishing?: (sub: SubRun, pids: number[]) => Promise<void>
  /** Extra process ids whose CPU is reported apart (a Redis the peer uses). */
  sidePids?: readonly number[]
  label: string
}

/** What one fan-out measurement yields. */
export interface FanoutOutcome {
  reasons: string[]
  deliveries: number
  seconds: number
  deliveriesPerS: number
  publishesPerS: number
  cpuUsPerDelivery: number | null
  serverCpuShare: number
  sideCpuUsPerDelivery: number | null
  sub: SubResult
  pub: PubResult
  rss: { t: number; mb: number }[]
}

/** Closed-loop publisher window: a few requests in flight keep the server busy without hiding its latency. */
export const CLOSED_WINDOW = 8

/** Fewer server CPU ticks than this in a window: CPU per delivery is not reported. */
export const MIN_CPU_TICKS = 5

/** Runs one fan-out measurement against a running peer. */
export async function measureFanout(
  ctx: BenchContext,
  running: RunningPeer,
  spec: FanoutSpec,
): Promise<FanoutOutcome> {
  const channels = Math.max(1, spec.channels)
  const publishes = Math.max(channels, Math.ceil(spec.publishes / channels) * channels)
  const perConnection = publishes / channels
  const rate = spec.rate ?? 0
  const expectedS = spec.mode === 'open' && rate > 0 ? publishes / rate : Math.max(5, publishes / 200)
  const connectS = spec.subs / 5000
  // Generous hard bounds: a run that needs them is reported, never waited on forever.
  const durationS = Math.ceil(connectS + expectedS * 2 + (ctx.options.quick ? 5 : 30))
  const sub = ctx.load.sub({
    targets: running.targets,
    path: running.subscribePath,
    conns: spec.subs,
    channels,
    durationS,
    untilEvents: perConnection,
    reportMs: 200,
    ...(spec.stallFraction ? { stallFraction: spec.stallFraction } : {}),
  })
  const pids = ctx.serverPids(running)
  const stopWatching = watchSub(ctx, sub, spec.label)
  try {
    await withDeadline(sub.ready, (connectS + 60) * 1000, `${spec.label}: subscribers ready`)
  } catch (error) {
    stopWatching()
    sub.kill()
    await sub.result.catch(() => undefined)
    throw error
  }
  await sleep(ctx.options.quick ? 200 : 1000)
  const before = sampleProcesses(pids)
  const sideBefore = spec.sidePids ? sampleProcesses(spec.sidePids) : undefined
  const rss: { t: number; mb: number }[] = []
  let sampler: ReturnType<typeof setInterval> | undefined
  if (spec.rssEveryMs !== undefined) {
    rss.push({ t: 0, mb: before.rssKb / 1024 })
    sampler = setInterval(() => {
      const now = sampleProcesses(pids)
      rss.push({ t: (now.atMs - before.atMs) / 1000, mb: now.rssKb / 1024 })
    }, spec.rssEveryMs)
  }
  const pubPromise = ctx.load.pub({
    ...running.publish,
    size: spec.size,
    channels,
    mode: spec.mode,
    count: publishes,
    durationS: Math.ceil(expectedS * 3 + 20),
    // One publisher connection: events must reach the server in seq order, or every subscriber
    // would see (and count) reordering as gaps and duplicates. Open loop never drops for lack of
    // window: a server slower than the rate shows as latency, which is what is measured.
    ...(spec.mode === 'closed'
      ? { window: spec.window ?? CLOSED_WINDOW, conns: 1 }
      : { rate, conns: 1, window: 100_000 }),
    ...(spec.burst !== undefined ? { burst: spec.burst } : {}),
  })
  let after: ProcessSample
  let pub: PubResult
  let subResult: SubResult
  try {
    if (spec.onPublishing) await spec.onPublishing(sub, pids)
    pub = await withDeadline(pubPromise, (expectedS * 3 + 40) * 1000, `${spec.label}: publisher`)
    subResult = await withDeadline(sub.result, (durationS + 30) * 1000, `${spec.label}: subscribers`)
    after = sampleProcesses(pids)
  } catch (error) {
    sub.kill()
    await sub.result.catch(() => undefined)
    await pubPromise.catch(() => undefined)
    throw error
  } finally {
    clearInterval(sampler)
    stopWatching()
  }
  const sideAfter = spec.sidePids ? sampleProcesses(spec.sidePids) : undefined
  const seconds = (after.atMs - before.atMs) / 1000
  const deliveries = subResult.events
  const cpuS = after.cpuS - before.cpuS
  const rules: ValidityRules = { expectedPublishes: publishes, ...spec.rules }
  if (spec.stallFraction) rules.stalled = Math.floor(spec.subs * spec.stallFraction)
  const reasons = invalidReasons(subResult, pub, rules)
  if (after.pids.length < before.pids.length) reasons.push('a server process exited during the run')
  return {
    reasons,
    deliveries,
    seconds,
    deliveriesPerS: deliveries / seconds,
    publishesPerS: pub.ok / seconds,
    // Below a few clock ticks (10 ms each at CLK_TCK 100) the CPU figure is noise, not a measurement.
    cpuUsPerDelivery:
      deliveries > 0 && cpuS * clockTicksPerSecond() >= MIN_CPU_TICKS ? (cpuS * 1e6) / deliveries : null,
    serverCpuShare: cpuS / seconds,
    sideCpuUsPerDelivery:
      sideBefore && sideAfter && deliveries > 0
        ? ((sideAfter.cpuS - sideBefore.cpuS) * 1e6) / deliveries
        : null,
    sub: subResult,
    pub,
    rss,
  }
}

/** The metrics every fan-out table draws from. */
export function fanoutMetrics(outcome: FanoutOutcome): Record<string, number | null> {
  return {
    deliveriesPerS: outcome.deliveriesPerS,
    publishesPerS: outcome.publishesPerS,
    cpuUsPerDelivery: outcome.cpuUsPerDelivery,
    serverCpuShare: outcome.serverCpuShare,
    p50us: outcome.sub.latency_us.count > 0 ? outcome.sub.latency_us.p50 : null,
    p99us: outcome.sub.latency_us.count > 0 ? outcome.sub.latency_us.p99 : null,
    p999us: outcome.sub.latency_us.count > 0 ? outcome.sub.latency_us.p999 : null,
    maxUs: outcome.sub.latency_us.count > 0 ? outcome.sub.latency_us.max : null,
    reachAllP50us: outcome.sub.reach_all_us?.p50 ?? null,
    reachAllP99us: outcome.sub.reach_all_us?.p99 ?? null,
    deliveries: outcome.deliveries,
    closedUnexpected: outcome.sub.closed_unexpected,
    ...(outcome.sideCpuUsPerDelivery !== null ? { redisCpuUsPerDelivery: outcome.sideCpuUsPerDelivery } : {}),
  }
}

/** Raw reports kept in the JSON. */
export function fanoutDetail(outcome: FanoutOutcome): Record<string, unknown> {
  return {
    sub: outcome.sub,
    pub: outcome.pub,
    seconds: outcome.seconds,
    ...(outcome.rss.length > 0 ? { rss: outcome.rss } : {}),
  }
}

/** One run of a fan-out point as recorded: its metrics, why it is invalid (if it is), its raw reports. */
export function fanoutAttempt(outcome: FanoutOutcome): Attempt {
  return { metrics: fanoutMetrics(outcome), reasons: outcome.reasons, detail: fanoutDetail(outcome) }
}

/** Shows a subscriber run's newest progress line on the status line every 500 ms; returns the stop. */
export function watchSub(ctx: BenchContext, sub: SubRun, label: string): () => void {
  const show = (): void => {
    const last = sub.progress[sub.progress.length - 1]
    if (last === undefined) ctx.progress.status(`${label} | starting`)
    else {
      ctx.progress.status(
        `${label} | t=${last.t.toFixed(0)}s connected ${last.connected} events ${last.events} gaps ${last.gaps} failed ${last.failed} closed ${last.closed}`,
      )
    }
  }
  show()
  const timer = setInterval(show, 500)
  return () => clearInterval(timer)
}
