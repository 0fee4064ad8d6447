import { lastEventIdOf, serveSse } from '@ssehub/server/express'
import { Cron } from 'croner'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { RecentHistory } from '../lib/recent-history.js'

const CHANNEL = 'scheduled'

/** The jobs: name, default cron pattern (with seconds), what it publishes. */
const JOBS = [
  ['pulse', '*/5 * * * * *', 'a pulse: how many streams are open'],
  ['report', '*/15 * * * * *', 'how many events the jobs have published'],
  ['minute', '0 * * * * *', 'the minute bell'],
] as const

/**
 * Cron jobs that publish to the `scheduled` channel: the APScheduler recipe of the Flask world,
 * with croner. The jobs run whether anyone listens or not; a page that connects gets the last runs
 * from history. `GET /scheduled/api/jobs` lists the jobs with their next run.
 */
export function mountScheduled(app: Router, { hub, schedules }: DemoContext): Demo {
  const recent = new RecentHistory(12)
  let published = 0
  const runs = new Map<string, number>()
  const jobs = JOBS.map(([name, defaultPattern, description]) => {
    const pattern = schedules[name] ?? defaultPattern
    const job: Cron = new Cron(pattern, { name: `ssehub-demo-${name}`, protect: true }, async () => {
      runs.set(name, (runs.get(name) ?? 0) + 1)
      const message =
        name === 'pulse'
          ? `${hub.stats().sessions} open stream${hub.stats().sessions === 1 ? '' : 's'} on the hub`
          : name === 'report'
            ? `the jobs have published ${published} event${published === 1 ? '' : 's'} so far`
            : `it is ${new Date().toLocaleTimeString('en-GB')}`
      const id = await hub.publish(
        CHANNEL,
        { job: name, pattern, message, runAt: Date.now(), nextRun: job.nextRun()?.getTime() ?? null },
        { event: 'job' },
      )
      published++
      recent.add(id)
    })
    return { name, pattern, description, job }
  })

  app.get('/scheduled/api/jobs', (_req, res) => {
    res.json({
      jobs: jobs.map(({ name, pattern, description, job }) => ({
        name,
        pattern,
        description,
        runs: runs.get(name) ?? 0,
        nextRun: job.nextRun()?.getTime() ?? null,
      })),
    })
  })

  app.get('/scheduled/events', (req, res) => {
    serveSse(hub, req, res, { channels: [CHANNEL], lastEventId: lastEventIdOf(req) ?? recent.cursor() ?? '' })
  })

  return {
    close() {
      for (const { job } of jobs) job.stop()
    },
  }
}
