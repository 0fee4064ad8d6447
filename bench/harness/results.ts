/**
 * The result model of a scenario (what `bench/results/<scenario>.json` holds) and its Markdown
 * rendering: one table per metric, every peer side by side, then the ratios ssehub ÷ peer.
 */
import { type Spread, spread } from './stats.js'

/** One measured run of a point (after at most one retry). */
export interface RunRecord {
  valid: boolean
  /** Why the run was rejected (empty when valid). */
  reasons: string[]
  /** 1, or 2 when the first attempt was invalid and the run was retried. */
  attempts: number
  /** Reasons the rejected first attempt gave, kept for the record. */
  firstAttemptReasons?: string[]
  metrics: Record<string, number | null>
  /** Raw load generator reports and extra series, for whoever wants to dig. */
  detail?: Record<string, unknown>
}

/** One configuration of one peer in a scenario, run `--runs` times. */
export interface PointRecord {
  peer: string
  /** Row label shared by all peers at the same configuration, e.g. `10000 subs, 100 B`. */
  row: string
  params: Record<string, string | number | boolean>
  status: 'ok' | 'invalid' | 'unsupported' | 'error'
  note?: string
  runs: RunRecord[]
  /** Median/min/max over the valid runs, per metric. */
  summary: Record<string, Spread>
}

/** Whether a selected peer could take part. */
export interface PeerStatus {
  name: string
  label: string
  available: boolean
  reason?: string
}

/** The whole result of one scenario. */
export interface ScenarioResult {
  scenario: string
  title: string
  description: string
  notes: string[]
  startedAt: string
  finishedAt: string
  machine: Record<string, string | number>
  options: Record<string, unknown>
  peers: PeerStatus[]
  points: PointRecord[]
  /** File names of the SVG plots written next to the JSON. */
  charts: string[]
}

/** Median/min/max of each metric over the valid runs. */
export function summarize(runs: readonly RunRecord[]): Record<string, Spread> {
  const valid = runs.filter((run) => run.valid)
  const names = [...new Set(valid.flatMap((run) => Object.keys(run.metrics)))]
  const summary: Record<string, Spread> = {}
  for (const name of names) {
    const s = spread(valid.map((run) => run.metrics[name]))
    if (s !== undefined) summary[name] = s
  }
  return summary
}

/** Human number: 3 significant digits, thousands grouped, no exponent. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US')
  if (abs === 0) return '0'
  return String(Number(value.toPrecision(3)))
}

/** Describes one metric table. */
export interface MetricTable {
  metric: string
  title: string
  /** Unit shown in the title, e.g. `µs`. */
  unit?: string
  /** Only points for which this holds (e.g. one payload size). */
  filter?: (point: PointRecord) => boolean
  /** Which direction is better, shown in the ratio header. */
  better?: 'lower' | 'higher'
}

function cell(point: PointRecord | undefined, metric: string): string {
  if (point === undefined) return '–'
  if (point.status === 'unsupported') return 'not supported'
  if (point.status === 'error') return `error${point.note ? `: ${point.note.slice(0, 60)}` : ''}`
  if (point.status === 'invalid') {
    const reason = point.runs.flatMap((run) => run.reasons)[0] ?? point.note
    return `invalid${reason ? `: ${reason}` : ''}`
  }
  const s = point.summary[metric]
  if (s === undefined) return 'n/a'
  if (s.n === 1 || s.min === s.max) return formatNumber(s.median)
  return `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})`
}

/**
 * A Markdown table of one metric: a row per configuration, a column per peer (median, with
 * min–max over the runs), then one `ssehub ÷ peer` column per other peer.
 */
export function metricTable(result: ScenarioResult, table: MetricTable): string {
  const points = result.points.filter((point) => table.filter?.(point) ?? true)
  if (points.length === 0) return ''
  const peers = result.peers.filter((peer) => peer.available).map((peer) => peer.name)
  const rows = [...new Set(points.map((point) => point.row))]
  const hasHub = peers.includes('ssehub')
  const others = peers.filter((peer) => peer !== 'ssehub')
  const ratioPeers = hasHub ? others : []
  const header = ['', ...peers, ...ratioPeers.map((peer) => `ssehub ÷ ${peer}`)]
  const lines = [
    `**${table.title}${table.unit ? ` (${table.unit})` : ''}**${table.better ? ` — ${table.better} is better` : ''}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ]
  for (const row of rows) {
    const byPeer = new Map(points.filter((point) => point.row === row).map((point) => [point.peer, point]))
    const hub = byPeer.get('ssehub')?.summary[table.metric]?.median
    const ratios = ratioPeers.map((peer) => {
      const other = byPeer.get(peer)
      const value = other?.status === 'ok' ? other.summary[table.metric]?.median : undefined
      if (hub === undefined || value === undefined || value === 0 || byPeer.get('ssehub')?.status !== 'ok')
        return '–'
      return `×${formatNumber(hub / value)}`
    })
    lines.push(
      `| ${[row, ...peers.map((peer) => cell(byPeer.get(peer), table.metric)), ...ratios].join(' | ')} |`,
    )
  }
  return `${lines.join('\n')}\n`
}

/**
 * How many valid runs each cell summarises: the count asked for (`--runs`) is not always the count
 * made (S8 makes one run per peer, a failed point none).
 */
function runsText(result: ScenarioResult): string {
  const counts = result.points
    .filter((point) => point.status === 'ok')
    .map((point) => point.runs.filter((run) => run.valid).length)
  if (counts.length === 0) return 'No valid point.'
  const low = Math.min(...counts)
  const high = Math.max(...counts)
  if (high === 1) return 'One run per point; cells show its value.'
  const runs = low === high ? String(low) : `${low}–${high}`
  return `Runs per point: ${runs}; cells show the median (min–max).`
}

/** The whole `<scenario>.md`: title, description, notes, tables, invalid runs, plots. */
export function scenarioMarkdown(result: ScenarioResult, tables: readonly MetricTable[]): string {
  const parts = [`# ${result.scenario.toUpperCase()}: ${result.title}`, '', result.description, '']
  parts.push(
    `Machine: ${Object.entries(result.machine)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')}. ${runsText(result)}`,
    '',
  )
  const missing = result.peers.filter((peer) => !peer.available)
  for (const peer of missing) parts.push(`> **${peer.name} skipped:** ${peer.reason ?? 'unavailable'}`, '')
  for (const note of result.notes) parts.push(`- ${note}`)
  if (result.notes.length > 0) parts.push('')
  const labels = result.peers.filter((peer) => peer.available)
  if (labels.length > 0) {
    parts.push(`Peers: ${labels.map((peer) => `${peer.name} = ${peer.label}`).join('; ')}.`, '')
  }
  for (const table of tables) {
    const text = metricTable(result, table)
    if (text) parts.push(text)
  }
  const rejected = result.points.flatMap((point) =>
    point.runs
      .map((run, i) => ({ run, i }))
      .filter(({ run }) => !run.valid || run.attempts > 1)
      .map(({ run, i }) => {
        const what = run.valid
          ? `retried after: ${(run.firstAttemptReasons ?? []).join('; ')}`
          : `invalid: ${run.reasons.join('; ')}`
        return `| ${point.peer} | ${point.row} | ${i + 1} | ${what} |`
      }),
  )
  if (rejected.length > 0) {
    parts.push(
      '**Rejected or retried runs**',
      '',
      '| peer | point | run | outcome |',
      '| --- | --- | ---: | --- |',
      ...rejected,
      '',
    )
  }
  for (const chart of result.charts) parts.push(`![${chart}](${chart})`, '')
  return parts.join('\n')
}
