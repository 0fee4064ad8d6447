/**
 * Small dependency-free SVG charts for the benchmark reports: a line chart (latency against load,
 * memory over time) and a grouped bar chart (CPU per delivery, memory per connection). Output is
 * standalone SVG 1.1 that browsers and GitHub render; every text is XML-escaped.
 */

/** One line of a line chart. */
export interface LineSeries {
  name: string
  points: readonly (readonly [number, number])[]
}

/** A line chart: one line per series, linear axes from zero (or the data minimum for x). */
export interface LineChartOptions {
  title: string
  xLabel: string
  yLabel: string
  series: readonly LineSeries[]
  /** Log scale on the y axis (latencies spread over decades). @defaultValue false */
  logY?: boolean
  width?: number
  height?: number
}

/** One group of bars (e.g. one payload size), one bar per series (e.g. per peer). */
export interface BarGroup {
  label: string
  bars: readonly { name: string; value: number | undefined }[]
}

/** A grouped bar chart. */
export interface BarChartOptions {
  title: string
  yLabel: string
  groups: readonly BarGroup[]
  width?: number
  height?: number
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']
const MARGIN = { top: 40, right: 170, bottom: 50, left: 75 }

/** Escapes the five XML special characters. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')
}

/** About `count` round tick values (1, 2, 5 × 10^k steps), the first <= low and the last >= high. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low]
  const raw = (high - low) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude
  const ticks: number[] = []
  const first = Math.floor(low / step + 1e-9) * step
  // From the last tick at or below `low` to the first at or above `high`: the axis covers the data.
  for (let i = 0; i < 50; i++) {
    const value = Number((first + i * step).toPrecision(12))
    ticks.push(value)
    if (value >= high - step * 1e-9) break
  }
  return ticks
}

/** Short number text for axes and labels: 1.5k, 2M, 0.25. */
export function formatTick(value: number): string {
  const abs = Math.abs(value)
  if (abs >= 1e9) return `${trim(value / 1e9)}G`
  if (abs >= 1e6) return `${trim(value / 1e6)}M`
  if (abs >= 1e4) return `${trim(value / 1e3)}k`
  return trim(value)
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)))
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}

function legend(names: readonly string[], x: number, y: number): string[] {
  return names.flatMap((name, i) => [
    `<rect x="${x}" y="${y + i * 18 - 9}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
    `<text x="${x + 18}" y="${y + i * 18 + 1}">${escapeXml(name)}</text>`,
  ])
}

function axisLabels(width: number, height: number, xLabel: string, yLabel: string): string[] {
  const plotMiddleY = MARGIN.top + (height - MARGIN.top - MARGIN.bottom) / 2
  return [
    `<text x="${MARGIN.left + (width - MARGIN.left - MARGIN.right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="16" y="${plotMiddleY}" text-anchor="middle" transform="rotate(-90 16 ${plotMiddleY})">${escapeXml(yLabel)}</text>`,
  ]
}

const round = (value: number): string => String(Math.round(value * 10) / 10)

/** Renders a line chart as an SVG document. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 720
  const height = options.height ?? 420
  const plotW = width - MARGIN.left - MARGIN.right
  const plotH = height - MARGIN.top - MARGIN.bottom
  const logY = options.logY ?? false
  const all = options.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const body: string[] = []
  if (all.length === 0) {
    body.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`)
    return frame(width, height, options.title, body)
  }
  const xs = all.map(([x]) => x)
  const ys = all.map(([, y]) => y).filter((y) => !logY || y > 0)
  if (ys.length === 0) {
    body.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`)
    return frame(width, height, options.title, body)
  }
  let xMin = Math.min(...xs)
  let xMax = Math.max(...xs)
  if (xMax === xMin) {
    xMin -= 1
    xMax += 1
  }
  let yTicks: number[]
  let yOf: (y: number) => number
  if (logY) {
    const low = 10 ** Math.floor(Math.log10(Math.min(...ys)))
    const high = 10 ** Math.ceil(Math.log10(Math.max(...ys, low * 10)))
    yTicks = []
    for (let v = low; v <= high && yTicks.length < 20; v *= 10) yTicks.push(v)
    yOf = (y) =>
      MARGIN.top + plotH - ((Math.log10(Math.max(y, low)) - Math.log10(low)) / Math.log10(high / low)) * plotH
  } else {
    const ticks = niceTicks(0, Math.max(...ys, 0) * 1.05 || 1)
    yTicks = ticks
    const top = ticks[ticks.length - 1] ?? 1
    yOf = (y) => MARGIN.top + plotH - (y / top) * plotH
  }
  const xOf = (x: number): number => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW
  for (const tick of yTicks) {
    const y = round(yOf(tick))
    body.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#dddddd"/>`)
    body.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    )
  }
  for (const tick of niceTicks(xMin, xMax).filter((value) => value >= xMin && value <= xMax)) {
    const x = round(xOf(tick))
    body.push(
      `<line x1="${x}" y1="${MARGIN.top + plotH}" x2="${x}" y2="${MARGIN.top + plotH + 5}" stroke="#333333"/>`,
    )
    body.push(`<text x="${x}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${formatTick(tick)}</text>`)
  }
  body.push(
    `<polyline points="${MARGIN.left},${MARGIN.top} ${MARGIN.left},${MARGIN.top + plotH} ${MARGIN.left + plotW},${MARGIN.top + plotH}" fill="none" stroke="#333333"/>`,
  )
  options.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length]
    const points = series.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0))
      .map(([x, y]) => [xOf(x), yOf(y)] as const)
    if (points.length > 1) {
      body.push(
        `<polyline points="${points.map(([x, y]) => `${round(x)},${round(y)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
      )
    }
    if (points.length <= 40) {
      for (const [x, y] of points)
        body.push(`<circle cx="${round(x)}" cy="${round(y)}" r="3" fill="${color}"/>`)
    }
  })
  body.push(...axisLabels(width, height, options.xLabel, options.yLabel))
  body.push(
    ...legend(
      options.series.map((s) => s.name),
      width - MARGIN.right + 15,
      MARGIN.top + 10,
    ),
  )
  return frame(width, height, options.title, body)
}

/** Renders a grouped bar chart as an SVG document; missing values leave a gap marked n/a. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 720
  const height = options.height ?? 420
  const plotW = width - MARGIN.left - MARGIN.right
  const plotH = height - MARGIN.top - MARGIN.bottom
  const names = [...new Set(options.groups.flatMap((g) => g.bars.map((b) => b.name)))]
  const values = options.groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
  const body: string[] = []
  if (values.length === 0 || names.length === 0) {
    body.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`)
    return frame(width, height, options.title, body)
  }
  const ticks = niceTicks(0, Math.max(...values, 0) * 1.1 || 1)
  const top = ticks[ticks.length - 1] ?? 1
  const yOf = (y: number): number => MARGIN.top + plotH - (Math.max(0, y) / top) * plotH
  for (const tick of ticks) {
    const y = round(yOf(tick))
    body.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#dddddd"/>`)
    body.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    )
  }
  const groupW = plotW / options.groups.length
  const barW = Math.max(2, (groupW * 0.8) / names.length)
  options.groups.forEach((group, g) => {
    const left = MARGIN.left + g * groupW + groupW * 0.1
    for (const bar of group.bars) {
      const i = names.indexOf(bar.name)
      const x = left + i * barW
      if (bar.value === undefined || !Number.isFinite(bar.value)) {
        body.push(
          `<text x="${round(x + barW / 2)}" y="${MARGIN.top + plotH - 4}" text-anchor="middle" font-size="9">n/a</text>`,
        )
        continue
      }
      const y = yOf(bar.value)
      body.push(
        `<rect x="${round(x)}" y="${round(y)}" width="${round(barW * 0.92)}" height="${round(MARGIN.top + plotH - y)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${bar.name}: ${bar.value}`)}</title></rect>`,
      )
      body.push(
        `<text x="${round(x + barW * 0.46)}" y="${round(y - 4)}" text-anchor="middle" font-size="9">${formatTick(bar.value)}</text>`,
      )
    }
    body.push(
      `<text x="${round(MARGIN.left + g * groupW + groupW / 2)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(group.label)}</text>`,
    )
  })
  body.push(
    `<polyline points="${MARGIN.left},${MARGIN.top} ${MARGIN.left},${MARGIN.top + plotH} ${MARGIN.left + plotW},${MARGIN.top + plotH}" fill="none" stroke="#333333"/>`,
  )
  body.push(...axisLabels(width, height, '', options.yLabel))
  body.push(...legend(names, width - MARGIN.right + 15, MARGIN.top + 10))
  return frame(width, height, options.title, body)
}
