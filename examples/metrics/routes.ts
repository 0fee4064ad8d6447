import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os'
import { lastEventIdOf, serveSse } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { RecentHistory } from '../lib/recent-history.js'

const CHANNEL = 'metrics'

/** One sample, as published (and charted by the page). */
export interface MetricsSample {
  /** Milliseconds since the Unix epoch. */
  at: number
  /** CPU busy, all cores, in percent over the last period. */
  cpu: number
  /** Per core, in percent. */
  cores: number[]
  memUsed: number
  memTotal: number
  /** 1, 5 and 15 minute load averages. */
  load: number[]
  /** Resident set size of this Node process, in bytes. */
  rss: number
  /** Host uptime, in seconds. */
  uptime: number
}

function cpuTimes(): { idle: number; total: number }[] {
  return cpus().map(({ times }) => ({
    idle: times.idle,
    total: times.user + times.nice + times.sys + times.idle + times.irq,
  }))
}

/**
 * One sampler for everyone: every period it measures the host and publishes a `sample` event to
 * the `metrics` channel, whoever listens. `GET /metrics/events` streams the channel, starting a
 * first connection one minute back so the charts are full at once.
 */
export function mountMetrics(app: Router, { hub, metricsMs }: DemoContext): Demo {
  const recent = new RecentHistory(Math.ceil(60_000 / metricsMs))
  let previous = cpuTimes()
  const timer = setInterval(() => {
    const now = cpuTimes()
    const cores = now.map((core, n) => {
      const before = previous[n] ?? core
      const total = core.total - before.total
      return total <= 0 ? 0 : Math.round((1 - (core.idle - before.idle) / total) * 1000) / 10
    })
    previous = now
    const sample: MetricsSample = {
      at: Date.now(),
      cpu: Math.round((cores.reduce((sum, value) => sum + value, 0) / Math.max(1, cores.length)) * 10) / 10,
      cores,
      memUsed: totalmem() - freemem(),
      memTotal: totalmem(),
      load: loadavg().map((value) => Math.round(value * 100) / 100),
      rss: process.memoryUsage().rss,
      uptime: Math.round(uptime()),
    }
    hub.publish(CHANNEL, sample, { event: 'sample' }).then(
      (id) => recent.add(id),
      () => {},
    )
  }, metricsMs)

  app.get('/metrics/events', (req, res) => {
    serveSse(hub, req, res, { channels: [CHANNEL], lastEventId: lastEventIdOf(req) ?? recent.cursor() ?? '' })
  })

  return { close: () => clearInterval(timer) }
}
