import { randomBytes } from 'node:crypto'
import type { Session } from '@ssehub/core'
import { serveSse } from '@ssehub/server/express'
import type { Router } from 'express'
import type { Demo, DemoContext } from '../lib/demo.js'
import { sleep } from '../lib/sleep.js'

/** One running task: what the server keeps while it runs, and drops when it is done. */
export interface TaskState {
  readonly id: string
  readonly title: string
  readonly total: number
  step: number
  readonly startedAt: number
  /** The streams following this task, closed when it completes. */
  readonly sessions: Set<Session>
}

/** The task demo, as the gallery (and its tests) see it. */
export interface TaskBoard extends Demo {
  /** Tasks still running, by id. A finished task is gone from here. */
  readonly running: ReadonlyMap<string, TaskState>
}

const KINDS = [
  ['Resize 240 photos', 'resizing photo'],
  ['Build the monthly report', 'aggregating sheet'],
  ['Transcode a video', 'encoding segment'],
  ['Reindex the search', 'indexing shard'],
  ['Import contacts', 'importing batch'],
  ['Train a tiny model', 'running epoch'],
] as const
const STEPS = 20
/** More than this many at once is refused (429): it is a demo on a shared server. */
const MAX_RUNNING = 12

/**
 * Background tasks, each publishing its progress to its own channel `task/<id>`:
 * - `POST /tasks/api/tasks` starts one and answers `201 { id, title, total, channel, lastEventId }`;
 * - `GET /tasks/events/:id` streams the task's channel from `lastEventId` (so nothing published
 *   between the start and the connection is missed); `204` once the task is over, which tells the
 *   client to stop;
 * - `GET /tasks/api/tasks` lists the running tasks.
 * When a task completes it publishes `done`, closes the streams following it and forgets it.
 */
export function mountTasks(app: Router, { hub, taskStepMs }: DemoContext): TaskBoard {
  const running = new Map<string, TaskState>()
  const abort = new AbortController()
  let started = 0

  const run = async (task: TaskState): Promise<void> => {
    const channel = `task/${task.id}`
    const verb = KINDS.find(([title]) => title === task.title)?.[1] ?? 'working on'
    for (let step = 1; step <= task.total && !abort.signal.aborted; step++) {
      // Uneven steps, like real work: between half and one and a half of the mean.
      await sleep(taskStepMs * (0.5 + Math.random()), abort.signal)
      task.step = step
      const percent = Math.round((step / task.total) * 100)
      await hub.publish(
        channel,
        { step, total: task.total, percent, message: `${verb} ${step} of ${task.total}` },
        {
          event: 'progress',
        },
      )
    }
    if (abort.signal.aborted) return
    const elapsedMs = Date.now() - task.startedAt
    await hub.publish(channel, { result: 'ok', elapsedMs }, { event: 'done' })
    // The task is over: end its streams (clients that reconnect get 204) and drop its state.
    for (const session of task.sessions) session.close()
    running.delete(task.id)
  }

  app.post('/tasks/api/tasks', async (_req, res) => {
    if (running.size >= MAX_RUNNING) {
      res
        .status(429)
        .json({ error: { code: 'TOO_MANY_TASKS', message: `at most ${MAX_RUNNING} tasks at once` } })
      return
    }
    const id = randomBytes(4).toString('hex')
    const [title] = KINDS[started++ % KINDS.length] ?? KINDS[0]
    const task: TaskState = { id, title, total: STEPS, step: 0, startedAt: Date.now(), sessions: new Set() }
    running.set(id, task)
    // The client resumes after this id: it sees every progress event, however late it connects.
    const lastEventId = await hub.publish(`task/${id}`, { total: STEPS }, { event: 'started' })
    void run(task).catch(() => running.delete(id))
    res.status(201).json({ id, title, total: STEPS, channel: `task/${id}`, lastEventId })
  })

  app.get('/tasks/api/tasks', (_req, res) => {
    res.json({
      running: [...running.values()].map(({ id, title, step, total }) => ({ id, title, step, total })),
    })
  })

  app.get('/tasks/events/:id', (req, res) => {
    const task = running.get(req.params.id)
    if (task === undefined) {
      // Finished (or never started): 204 is the standard way to tell a client to stop reconnecting.
      res.status(204).end()
      return
    }
    const session: Session = serveSse(hub, req, res, {
      channels: [`task/${task.id}`],
      onClose: () => task.sessions.delete(session),
    })
    task.sessions.add(session)
  })

  return {
    running,
    close: () => abort.abort(),
  }
}
