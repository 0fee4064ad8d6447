/**
 * End-to-end smoke test of the benchmark harness: `bench/run.ts s2 --quick` with ssehub and the
 * plain node:http peer, through the real C load generator, into a temporary output folder. It
 * checks what the reports are made of, not how fast anything is.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { withTimeout } from '@ssehub/testkit'
import type { ScenarioResult } from '../harness/results.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'ssehub-bench-smoke-'))
after(() => rmSync(out, { recursive: true, force: true }))

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@ssehub/source', 'bench/run.ts', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-20_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once('close', (code) => resolve({ code, output }))
  })
  return withTimeout(done, 55_000, 'bench s2 --quick').catch((error: unknown) => {
    // The harness and its servers share the process group: take them all down.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    throw new Error(`${String(error)}\n${output}`)
  })
}

describe('npm run bench', () => {
  it('runs S2 at quick scale against ssehub and node:http and writes JSON, Markdown and SVG', async () => {
    const { code, output } = await runBench([
      's2',
      '--quick',
      '--peers',
      'ssehub,node-http',
      '--no-install',
      '--out',
      out,
    ])
    assert.equal(code, 0, output)
    const result = JSON.parse(readFileSync(join(out, 's2.json'), 'utf8')) as ScenarioResult
    assert.deepEqual(
      result.peers.map((peer) => [peer.name, peer.available]),
      [
        ['ssehub', true],
        ['node-http', true],
      ],
      output,
    )
    for (const peer of ['ssehub', 'node-http']) {
      const max = result.points.find((point) => point.peer === peer && point.params.load === 'max')
      assert.ok(max, `${peer}: no max point\n${output}`)
      assert.equal(max.status, 'ok', `${peer}: ${JSON.stringify(max.runs.map((run) => run.reasons))}`)
      assert.ok(max.runs.every((run) => run.valid))
      const summary = max.summary
      assert.ok((summary.deliveries?.median ?? 0) > 0, `${peer}: no deliveries`)
      assert.ok((summary.deliveriesPerS?.median ?? 0) > 0, `${peer}: no deliveries/s`)
      assert.ok((summary.cpuUsPerDelivery?.median ?? 0) > 0, `${peer}: no CPU per delivery`)
      const loads = result.points.filter((point) => point.peer === peer).map((point) => point.params.load)
      assert.deepEqual(loads, ['max', 'single', '25%', '50%', '75%'])
    }
    const markdown = readFileSync(join(out, 's2.md'), 'utf8')
    assert.match(markdown, /\| {2}\| ssehub \| node-http \| ssehub ÷ node-http \|/)
    assert.match(markdown, /\*\*Max deliveries per second\*\*/)
    for (const chart of ['s2-latency-100-100.svg', 's2-cpu-per-delivery.svg', 's2-max-deliveries.svg']) {
      assert.ok(existsSync(join(out, chart)), `${chart} missing`)
      const svg = readFileSync(join(out, chart), 'utf8')
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/)
      assert.match(svg, /<\/svg>\n$/)
      assert.ok(result.charts.includes(chart))
      assert.match(markdown, new RegExp(`!\\[${chart.replaceAll('.', '\\.')}\\]`))
    }
  })
})
