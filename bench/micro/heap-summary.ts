/**
 * Sums a V8 heap snapshot's self sizes by constructor name, largest first: what idle connections
 * hold (issue 7). With a second snapshot, the difference `file - base` (sorted by bytes), and
 * with a count, per item: `MICRO_SNAPSHOT=/tmp/s MICRO_KINDS=ssehub ... idle-memory.ts 5000 1`,
 * then `node --import tsx bench/micro/heap-summary.ts /tmp/s/ssehub-after.heapsnapshot 40
 * /tmp/s/ssehub-before.heapsnapshot 5000`.
 *
 *   node --import tsx bench/micro/heap-summary.ts file.heapsnapshot [top=30] [base.heapsnapshot] [per=1]
 */
import { readFileSync } from 'node:fs'

const file = process.argv[2]
if (file === undefined) throw new Error('usage: heap-summary.ts <file.heapsnapshot> [top]')
const top = Number(process.argv[3] ?? 30)
type Totals = Map<string, { count: number; bytes: number }>

function summarise(path: string): Totals {
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
    strings: string[]
  }
  const fields = snapshot.snapshot.meta.node_fields
  const stride = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const types = snapshot.snapshot.meta.node_types[0]
  const totals: Totals = new Map()
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt] as number] as string
    const name =
      type === 'object' || type === 'closure'
        ? (snapshot.strings[snapshot.nodes[i + nameAt] as number] as string)
        : `(${type})`
    const key = type === 'closure' ? `closure ${name}` : name
    const entry = totals.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += snapshot.nodes[i + sizeAt] as number
    totals.set(key, entry)
  }
  return totals
}

const totals = summarise(file)
const basePath = process.argv[4]
const per = Number(process.argv[5] ?? 1)
if (basePath !== undefined) {
  for (const [key, base] of summarise(basePath)) {
    const entry = totals.get(key) ?? { count: 0, bytes: 0 }
    entry.count -= base.count
    entry.bytes -= base.bytes
    totals.set(key, entry)
  }
}
const rows = [...totals].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)
let sum = 0
for (const { bytes } of totals.values()) sum += bytes
const show = (n: number): string => (per === 1 ? String(n) : (n / per).toFixed(1))
for (const [name, { count, bytes }] of rows)
  console.log(`${show(bytes).padStart(10)} ${show(count).padStart(8)}  ${name}`)
console.log(`${show(sum).padStart(10)} total${per === 1 ? '' : ` (per ${per})`}`)
