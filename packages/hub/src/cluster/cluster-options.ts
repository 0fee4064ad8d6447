/** The `--workers` option of `ssehub serve`: parsing only. */
import { availableParallelism } from 'node:os'
import type { OptionDef } from '../config.js'
import { parseInteger } from '../option-parsers.js'

/** Most worker processes `--workers` accepts. */
export const MAX_WORKERS = 64

/** What the cluster options resolve to, as part of `ServeConfig`. */
export interface ClusterServeConfig {
  /** Worker processes sharing the port (`node:cluster`); 1 serves from the process itself. */
  workers: number
}

/** Parses `--workers`: a count from 1 to {@link MAX_WORKERS}, or `auto` (one per CPU core). */
export function parseWorkers(raw: string, source: string): number {
  if (raw.toLowerCase() === 'auto') return Math.min(availableParallelism(), MAX_WORKERS)
  return parseInteger(raw, source, 1, MAX_WORKERS, `an integer from 1 to ${MAX_WORKERS}, or auto`)
}

export const CLUSTER_OPTIONS = [
  {
    key: 'workers',
    flag: 'workers',
    env: ['SSEHUB_WORKERS'],
    spec: { type: 'string' },
    valueName: '<n|auto>',
    help: 'worker processes sharing the port (node:cluster; events cross workers through the broker: Redis, or the primary over IPC)',
    defaultValue: 1,
    parse: parseWorkers,
  } satisfies OptionDef<'workers'>,
] as const
