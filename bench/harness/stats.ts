/** Summary statistics for repeated benchmark runs: the median is reported, min and max show the spread. */

/** Median, minimum, maximum and count of a set of numbers. */
export interface Spread {
  median: number
  min: number
  max: number
  n: number
}

/** The median of `values` (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  if (sorted.length % 2 === 1) return sorted[middle] as number
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Median, min and max of the finite values; undefined when there are none. */
export function spread(values: readonly (number | null | undefined)[]): Spread | undefined {
  const finite = values.filter(
    (value): value is number => typeof value === 'number' && Number.isFinite(value),
  )
  if (finite.length === 0) return undefined
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length }
}

/** Least-squares line through the points: `y = intercept + slope * x`. Undefined under two distinct x. */
export function linearFit(
  points: readonly (readonly [number, number])[],
): { slope: number; intercept: number } | undefined {
  const n = points.length
  if (n < 2) return undefined
  let sumX = 0
  let sumY = 0
  for (const [x, y] of points) {
    sumX += x
    sumY += y
  }
  const meanX = sumX / n
  const meanY = sumY / n
  let sxx = 0
  let sxy = 0
  for (const [x, y] of points) {
    sxx += (x - meanX) * (x - meanX)
    sxy += (x - meanX) * (y - meanY)
  }
  if (sxx === 0) return undefined
  const slope = sxy / sxx
  return { slope, intercept: meanY - slope * meanX }
}

/** `value` limited to `[low, high]`. */
export function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}
