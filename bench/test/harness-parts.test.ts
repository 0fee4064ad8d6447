import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { sleep, waitFor, withTimeout } from '@ssehub/testkit'
import {
  parseMeminfoKb,
  parseSockstatTcpPages,
  parseStat,
  parseStatusRssKb,
  processTree,
  sampleKernel,
  sampleProcesses,
} from '../harness/proc.js'
import {
  metricTable,
  type PointRecord,
  type ScenarioResult,
  scenarioMarkdown,
  summarize,
} from '../harness/results.js'
import { eventsAt } from '../harness/scenarios/s4.js'
import { idForSeq } from '../harness/scenarios/s5.js'
import { driftMbPerHour } from '../harness/scenarios/s8.js'
import { linearFit, median, spread } from '../harness/stats.js'
import { attachStrace, parseStraceSummary } from '../harness/strace.js'
import { barChart, escapeXml, lineChart, niceTicks } from '../harness/svg-chart.js'
import { invalidReasons, type PubOutcome, type SubOutcome } from '../harness/validity.js'
import { parseBenchArgs } from '../run.js'

/**
 * A strict-enough XML well-formedness check for the SVG we write: one root, every tag closed in
 * order, attributes quoted, no raw `<` or bare `&` in text or attribute values.
 */
function assertWellFormedXml(text: string): void {
  const stack: string[] = []
  let roots = 0
  let at = 0
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y
  while (at < text.length) {
    const lt = text.indexOf('<', at)
    const chunk = text.slice(at, lt === -1 ? text.length : lt)
    assert.doesNotMatch(chunk, /&(?!(amp|lt|gt|quot|apos);)/, `bare & in text: ${chunk}`)
    if (lt === -1) break
    tag.lastIndex = lt
    const match = tag.exec(text)
    assert.ok(match, `malformed tag at ${lt}: ${text.slice(lt, lt + 60)}`)
    const [whole, closing, name, attributes, selfClosing] = match
    assert.doesNotMatch(attributes ?? '', /&(?!(amp|lt|gt|quot|apos);)/, `bare & in attributes of ${name}`)
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`)
    else if (!selfClosing) {
      if (stack.length === 0) roots++
      stack.push(name as string)
    } else if (stack.length === 0) roots++
    at = lt + whole.length
  }
  assert.deepEqual(stack, [], 'unclosed elements')
  assert.equal(roots, 1, 'exactly one root element')
}

const goodSub: SubOutcome = {
  conns: 100,
  connected: 100,
  failed: 0,
  closed_unexpected: 0,
  events: 1000,
  gaps: 0,
  dups: 0,
  completed: 100,
  complete_s: 1.2,
  saturated: false,
}
const goodPub: PubOutcome = {
  sent: 10,
  ok: 10,
  errors: 0,
  status: { '200': 10 },
  wall_s: 1,
  cpu_user_s: 0.01,
  cpu_sys_s: 0.01,
  saturated: false,
}

describe('bench harness statistics', () => {
  it('takes the median of odd and even counts and NaN of nothing', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.ok(Number.isNaN(median([])))
  })

  it('spreads only finite values', () => {
    assert.deepEqual(spread([5, null, 1, Number.NaN, 9, undefined]), { median: 5, min: 1, max: 9, n: 3 })
    assert.equal(spread([null]), undefined)
  })

  it('fits a line through points', () => {
    const fit = linearFit([
      [0, 1],
      [1, 3],
      [2, 5],
    ])
    assert.ok(fit)
    assert.ok(Math.abs(fit.slope - 2) < 1e-9 && Math.abs(fit.intercept - 1) < 1e-9)
    assert.equal(linearFit([[1, 1]]), undefined)
  })

  it('measures RSS drift per hour after the warm-up tenth', () => {
    // 1 MiB more every 100 s = 36 MiB/h; the first sample (warm-up jump) is ignored.
    const samples = Array.from({ length: 37 }, (_, i) => ({ t: i * 100, mb: i === 0 ? 0 : 50 + i }))
    const drift = driftMbPerHour(samples)
    assert.ok(drift !== null && Math.abs(drift - 36) < 1e-6, String(drift))
    assert.equal(driftMbPerHour([{ t: 0, mb: 1 }]), null)
  })

  it('summarizes only valid runs', () => {
    const summary = summarize([
      { valid: true, reasons: [], attempts: 1, metrics: { x: 1 } },
      { valid: false, reasons: ['gaps'], attempts: 2, metrics: { x: 100 } },
      { valid: true, reasons: [], attempts: 1, metrics: { x: 3 } },
    ])
    assert.deepEqual(summary.x, { median: 2, min: 1, max: 3, n: 2 })
  })
})

describe('bench harness /proc parsing', () => {
  it('reads CPU ticks and parent from a stat line whose command has spaces and parentheses', () => {
    const line =
      '4242 (node (worker) x) S 17 4242 4242 0 -1 4194560 9 0 0 0 250 75 3 4 20 0 11 0 123 1000 500 18446744073709551615'
    assert.deepEqual(parseStat(line), { ppid: 17, cpuTicks: 325 })
    assert.throws(() => parseStat('garbage'), /not a \/proc stat line/)
  })

  it('reads VmRSS, sockstat TCP pages and meminfo fields', () => {
    assert.equal(parseStatusRssKb('Name:\tnode\nVmHWM:\t  9000 kB\nVmRSS:\t  8123 kB\n'), 8123)
    assert.equal(parseStatusRssKb('Name:\tzombie\n'), 0)
    assert.equal(
      parseSockstatTcpPages(
        'sockets: used 34\nTCP: inuse 11 orphan 0 tw 3 alloc 14 mem 9\nUDP: inuse 0 mem 0\n',
      ),
      9,
    )
    assert.equal(parseMeminfoKb('MemTotal: 100 kB\nSlab:             132184 kB\n', 'Slab'), 132184)
    assert.throws(() => parseMeminfoKb('MemTotal: 100 kB\n', 'Slab'), /no Slab/)
  })

  it('samples this process and finds a child in its process tree', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' })
    try {
      await waitFor(() => child.pid !== undefined, 5000, 'child pid')
      const pid = child.pid as number
      await waitFor(() => processTree([process.pid]).includes(pid), 5000, 'child in the tree')
      const sample = sampleProcesses([process.pid, pid])
      assert.deepEqual(sample.pids, [process.pid, pid])
      assert.ok(sample.cpuS > 0 && sample.rssKb > 10_000, JSON.stringify(sample))
      const kernel = sampleKernel()
      assert.ok(kernel.slabKb > 0 && kernel.tcpMemKb >= 0)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('bench harness strace', () => {
  it('parses an strace -c summary, recomputing the total and the write family', () => {
    const text = [
      '% time     seconds  usecs/call     calls    errors syscall',
      '------ ----------- ----------- --------- --------- ----------------',
      ' 45.00    0.000450          10        45           writev',
      ' 30.00    0.000300           5        60         3 epoll_wait',
      ' 25.00    0.000250           5        50           write',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.001000           6       155         3 total',
    ].join('\n')
    const counts = parseStraceSummary(text)
    assert.deepEqual(counts.calls, { writev: 45, epoll_wait: 60, write: 50 })
    assert.equal(counts.total, 155)
    assert.equal(counts.writes, 95)
  })

  it('counts the writes of a real process it attaches to', async () => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        "const fs=require('fs');const fd=fs.openSync('/dev/null','w');setInterval(()=>fs.writeSync(fd,'x'),5)",
      ],
      { stdio: 'ignore' },
    )
    try {
      await waitFor(() => child.pid !== undefined, 5000, 'child pid')
      await sleep(200)
      const session = attachStrace([child.pid as number])
      await withTimeout(session.attached, 10_000, 'strace attach')
      await sleep(500)
      const counts = await withTimeout(session.stop(), 20_000, 'strace stop')
      assert.ok((counts.calls.write ?? 0) >= 20, JSON.stringify(counts.calls))
      assert.ok(counts.total >= counts.writes && counts.writes >= 20)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('interpolates delivered events between progress lines', () => {
    const lines = [
      { t: 0, connected: 1, events: 0, gaps: 0, failed: 0, closed: 0, atMs: 1000 },
      { t: 1, connected: 1, events: 100, gaps: 0, failed: 0, closed: 0, atMs: 2000 },
      { t: 2, connected: 1, events: 300, gaps: 0, failed: 0, closed: 0, atMs: 3000 },
    ]
    assert.equal(eventsAt(lines, 2500), 200)
    assert.equal(eventsAt(lines, 500), 0)
    assert.equal(eventsAt(lines, 9000), 300)
    assert.equal(eventsAt([], 1), undefined)
  })
})

describe('bench harness validity rules', () => {
  it('accepts a complete, ordered, unsaturated run', () => {
    assert.deepEqual(invalidReasons(goodSub, goodPub, { expectedPublishes: 10 }), [])
  })

  it('rejects saturation, failed connections, gaps, duplicates and publisher errors', () => {
    const reasons = invalidReasons(
      { ...goodSub, saturated: true, failed: 2, connected: 98, gaps: 5, dups: 1, completed: 90 },
      { ...goodPub, ok: 8, errors: 2, status: { '200': 8, '503': 2 }, lost: 2 },
      { expectedPublishes: 10 },
    )
    assert.deepEqual(reasons, [
      'load generator saturated',
      '2 connections failed',
      'only 98 of 100 connected',
      '5 gaps',
      '1 duplicates',
      'only 90 of 100 connections received every event',
      'publisher had 2 errors (503×2, lost 2)',
      'publisher completed 8 of 10 publishes',
    ])
  })

  it('tolerates loss and server closes only where the scenario measures them', () => {
    const lossy = { ...goodSub, gaps: 3, dups: 1, closed_unexpected: 4 }
    assert.deepEqual(invalidReasons(lossy, goodPub, { allowLoss: true, allowClosed: true }), [])
    assert.deepEqual(invalidReasons(lossy, goodPub), [
      '3 gaps',
      '1 duplicates',
      '4 connections closed by the server',
    ])
  })

  it('does not expect stalled connections to complete, and flags a busy publisher', () => {
    assert.deepEqual(invalidReasons({ ...goodSub, completed: 99 }, undefined, { stalled: 1 }), [])
    const { saturated: _, ...unjudged } = goodPub
    const busy = { ...unjudged, wall_s: 2, cpu_user_s: 1.5, cpu_sys_s: 0.4 }
    assert.deepEqual(invalidReasons(undefined, busy), ['publisher saturated'])
  })
})

describe('bench harness reports', () => {
  it('draws well-formed SVG line and bar charts with escaped text', () => {
    const line = lineChart({
      title: 'p99 <latency> & "load"',
      xLabel: 'load %',
      yLabel: 'µs',
      logY: true,
      series: [
        {
          name: 'ssehub',
          points: [
            [25, 900],
            [50, 1200],
            [75, 4000],
          ],
        },
        {
          name: "peer's",
          points: [
            [25, Number.NaN],
            [50, 2000],
          ],
        },
      ],
    })
    assertWellFormedXml(line)
    assert.match(line, /p99 &lt;latency&gt; &amp; &quot;load&quot;/)
    assert.match(line, /<polyline points="[\d., ]+" fill="none" stroke="#1f77b4"/)
    const bars = barChart({
      title: 'CPU',
      yLabel: 'µs',
      groups: [
        {
          label: '1k & 10k',
          bars: [
            { name: 'a', value: 77 },
            { name: 'b', value: undefined },
          ],
        },
      ],
    })
    assertWellFormedXml(bars)
    assert.match(bars, />n\/a</)
    assertWellFormedXml(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }))
    assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;')
  })

  it('chooses axis ticks that cover the data', () => {
    const ticks = niceTicks(0, 77)
    assert.deepEqual(ticks, [0, 20, 40, 60, 80])
    const small = niceTicks(0, 0.33)
    assert.ok((small[small.length - 1] as number) >= 0.33)
  })

  it('puts peers side by side with ssehub ÷ peer ratios and explains invalid cells', () => {
    const point = (peer: string, value: number, status: PointRecord['status'] = 'ok'): PointRecord => ({
      peer,
      row: '1,000 subs',
      params: {},
      status,
      runs:
        status === 'ok'
          ? [{ valid: true, reasons: [], attempts: 1, metrics: { cpu: value } }]
          : [{ valid: false, reasons: ['load generator saturated'], attempts: 2, metrics: {} }],
      summary: status === 'ok' ? { cpu: { median: value, min: value, max: value, n: 1 } } : {},
    })
    const result: ScenarioResult = {
      scenario: 's2',
      title: 't',
      description: 'd',
      notes: [],
      startedAt: '',
      finishedAt: '',
      machine: {},
      options: { runs: 1 },
      peers: ['ssehub', 'nchan', 'flask-sse'].map((name) => ({ name, label: name, available: true })),
      points: [point('ssehub', 2), point('nchan', 4), point('flask-sse', 0, 'invalid')],
      charts: [],
    }
    const table = metricTable(result, { metric: 'cpu', title: 'CPU', unit: 'µs', better: 'lower' })
    assert.match(table, /\| {2}\| ssehub \| nchan \| flask-sse \| ssehub ÷ nchan \| ssehub ÷ flask-sse \|/)
    assert.match(table, /\| 1,000 subs \| 2 \| 4 \| invalid: load generator saturated \| ×0\.5 \| – \|/)
    // The header tells how many valid runs each cell summarises, whatever --runs asked for.
    assert.match(
      scenarioMarkdown({ ...result, options: { runs: 3 } }, []),
      /One run per point; cells show its value\./,
    )
    const three = { ...point('ssehub', 2), runs: Array.from({ length: 3 }, () => point('ssehub', 2).runs[0]) }
    assert.match(
      scenarioMarkdown({ ...result, points: [three as PointRecord, point('nchan', 4)] }, []),
      /Runs per point: 1–3; cells show the median \(min–max\)\./,
    )
  })

  it('finds the id recorded for an event sequence number', () => {
    assert.equal(idForSeq('99 c0:99\n100 1700000000:3\n101 x\n', 100), '1700000000:3')
    assert.equal(idForSeq('1 a\n', 100), undefined)
  })
})

describe('bench command line', () => {
  it('defaults to three runs of both sizes, and one run of 100 B with --quick', () => {
    const full = parseBenchArgs(['s2'])
    assert.deepEqual(
      [full.options.runs, full.options.sizes, full.scenarios.map((s) => s.id)],
      [3, [100, 1024], ['s2']],
    )
    const quick = parseBenchArgs(['all', '--quick', '--peers', 'ssehub,nchan', '--out', '/tmp/x'])
    assert.deepEqual(
      [quick.options.runs, quick.options.sizes, quick.options.peers],
      [1, [100], ['ssehub', 'nchan']],
    )
    assert.equal(quick.scenarios.length, 8)
  })

  it('refuses unknown scenarios, peers and sizes', () => {
    assert.throws(() => parseBenchArgs(['s9']), /unknown scenario/)
    assert.throws(() => parseBenchArgs(['s1', '--peers', 'apache']), /unknown peer apache/)
    assert.throws(() => parseBenchArgs(['s1', '--size', '512']), /--size must be 100 or 1024/)
    assert.throws(() => parseBenchArgs([]), /usage/)
  })

  it('is wired as npm run bench', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
    assert.equal(pkg.scripts.bench, 'tsx --conditions=@ssehub/source bench/run.ts')
  })
})
