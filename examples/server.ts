/**
 * The ssehub demo gallery: one Node server (Express 5 with `@ssehub/server/express`, one hub) that
 * serves nine demos and an index page linking them. `npm run demo` runs it.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createHub, type Hub } from '@ssehub/core'
import express, { type Express } from 'express'
import { buildBundle } from '../packages/client/scripts/bundle.mjs'
import { mountChat } from './chat/routes.js'
import { mountClock } from './clock/routes.js'
import { mountFlaskSse } from './flask-sse/routes.js'
import type { Demo, DemoContext, GalleryOptions } from './lib/demo.js'
import { mountMetrics } from './metrics/routes.js'
import { mountNamedEvents } from './named-events/routes.js'
import { mountResume } from './resume/routes.js'
import { mountScheduled } from './scheduled/routes.js'
import { mountTasks, type TaskBoard } from './tasks/routes.js'
import { mountTicker } from './ticker/routes.js'

const ROOT = fileURLToPath(new URL('./', import.meta.url))

/** The demos, in the order of the index page: folder, title, one line. */
export const DEMOS = [
  ['clock', 'Counter and clock', 'An update every second, JSON data, the plainest possible page.'],
  ['named-events', 'Named events', '`counter` and `time` events, each handled by its own listener.'],
  ['resume', 'Event ids and resume', 'Drop the connection and watch it resume without missing a number.'],
  ['tasks', 'Task progress', 'Background tasks, each with its own progress bar fed by its own channel.'],
  ['chat', 'Chat', 'Post a message, everyone sees it live; history replays to late joiners.'],
  ['metrics', 'System metrics', 'CPU and memory of this host, live, in hand-drawn SVG charts.'],
  ['ticker', 'Stock ticker', 'Pick symbols, each a channel (or all with a pattern); prices flash on change.'],
  [
    'scheduled',
    'Scheduled publishing',
    'Cron jobs (croner) publish to a channel, like APScheduler with Flask.',
  ],
  ['flask-sse', 'Flask-SSE migration', 'publish(data, type, id, retry, channel) over the hub’s HTTP API.'],
] as const

/** The running gallery. */
export interface Gallery {
  readonly app: Express
  readonly hub: Hub
  /** The task demo's state, for tests: running tasks and their sessions. */
  readonly tasks: TaskBoard
  /** Stops every demo's timers and the hub. */
  close(): Promise<void>
}

/**
 * Builds the gallery app. Nothing listens yet: `app` is an Express app to hand to `http.createServer`.
 * @example
 * const gallery = await createGallery()
 * createServer(gallery.app).listen(3000)
 */
export async function createGallery(options: GalleryOptions = {}): Promise<Gallery> {
  // One hub for every demo; its retry hint is short so that drops recover quickly on screen.
  const hub = createHub({ retryMs: 1000 })
  const context: DemoContext = {
    hub,
    tickMs: options.tickMs ?? 1000,
    taskStepMs: options.taskStepMs ?? 180,
    metricsMs: options.metricsMs ?? 1000,
    tickerMs: options.tickerMs ?? 900,
    schedules: options.schedules ?? {},
  }
  const app = express()
  app.disable('x-powered-by')
  // The hub's HTTP API reads its own request bodies: it goes before the JSON body parser.
  const flaskSse = mountFlaskSse(app, context)
  app.use(express.json({ limit: '16kb' }))

  // The browser build of @ssehub/client, made in memory at start (esbuild, ~100 ms).
  const [, esm] = await buildBundle({ write: false })
  const bundle = esm?.text ?? ''
  app.get('/assets/ssehub-client.min.mjs', (_req, res) => {
    res.type('text/javascript').set('cache-control', 'no-cache').send(bundle)
  })
  app.use('/assets', express.static(`${ROOT}assets`, { fallthrough: false }))
  app.get('/', (_req, res) => {
    res.sendFile(`${ROOT}index.html`)
  })
  for (const [name] of DEMOS) {
    // Non-strict routing: `/clock` and `/clock/` both serve the page (its URLs are absolute).
    app.get(`/${name}/`, (_req, res) => res.sendFile(`${ROOT}${name}/index.html`))
  }

  const tasks = mountTasks(app, context)
  const demos: Demo[] = [
    mountClock(app, context),
    mountNamedEvents(app, context),
    mountResume(app, context),
    tasks,
    mountChat(app, context),
    mountMetrics(app, context),
    mountTicker(app, context),
    mountScheduled(app, context),
    flaskSse,
  ]
  return {
    app,
    hub,
    tasks,
    async close() {
      for (const demo of demos) await demo.close?.()
      await hub.close()
    },
  }
}

/** Starts the gallery on `port` (0 picks a free one); resolves once it listens. */
export async function startGallery(
  port: number,
  options: GalleryOptions = {},
): Promise<Gallery & { server: Server; url: string }> {
  const gallery = await createGallery(options)
  const server = createServer(gallery.app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const url = `http://localhost:${(server.address() as AddressInfo).port}/`
  return {
    ...gallery,
    server,
    url,
    async close() {
      await gallery.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 3000)
  const gallery = await startGallery(port)
  const readme = await readFile(`${ROOT}README.md`, 'utf8').catch(() => '')
  console.log(`ssehub demo gallery on ${gallery.url}${readme === '' ? '' : ' (see examples/README.md)'}`)
  for (const [name, title] of DEMOS) console.log(`  ${title.padEnd(22)} ${gallery.url}${name}/`)
  let stopping = false
  const stop = (): void => {
    if (stopping) process.exit(130)
    stopping = true
    console.log('stopping: ending open streams')
    void gallery.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
