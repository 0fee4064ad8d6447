/**
 * The Express adapter beyond the conformance suite: next to the `compression` middleware (events
 * must never wait in the compressor), as mounted middleware, with Express's error handling. Every
 * test runs on Express 4 and Express 5.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, get, type IncomingMessage, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, it } from 'node:test'
import { createGunzip } from 'node:zlib'
import { createHub, type Hub, type HubOptions } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { createSseHandler, type SseHandlerOptions, sseEvent, streamEvents } from '@ssehub/server/express'
import { openSse, sleep, waitFor, withTimeout } from '@ssehub/testkit'
import compression from 'compression'
import express from 'express'

const express4 = createRequire(import.meta.url)('express4') as typeof express

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

async function listen(app: express.Express): Promise<string> {
  const server: Server = createServer(app)
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function hubOf(options: HubOptions = {}): Hub {
  const hub = createHub({ heartbeatMs: false, ...options })
  cleanups.push(() => hub.close())
  return hub
}

/** An app with `compression()` in front of everything, the way most Express apps have it. */
function compressedApp(factory: typeof express, hub: Hub, options: SseHandlerOptions = {}): express.Express {
  const app = factory()
  app.use(compression())
  app.get('/text', (_req, res) => {
    res.type('text/plain').send('compress me '.repeat(400))
  })
  app.get('/events', createSseHandler(hub, options))
  return app
}

/** A raw GET that asks for gzip and decompresses it itself, parsing events as they come out. */
async function gzipEvents(url: string): Promise<{ res: IncomingMessage; events: ParsedEvent[] }> {
  const res = await withTimeout(
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = get(url, { headers: { accept: 'text/event-stream', 'accept-encoding': 'gzip' } }, resolve)
      req.on('error', reject)
      cleanups.push(() => req.destroy())
    }),
    2000,
    'response',
  )
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res
  body.on('data', (chunk: Buffer) => parser.feed(chunk))
  body.on('error', () => {})
  return { res, events }
}

/** Publishes `count` events one at a time and measures how long each takes to reach the client. */
async function delays(hub: Hub, events: readonly ParsedEvent[], count: number): Promise<number[]> {
  const out: number[] = []
  for (let n = 0; n < count; n++) {
    const before = events.length
    const started = performance.now()
    await withTimeout(hub.publish('news', { n, padding: 'p'.repeat(200) }), 1000, 'publish')
    await waitFor(() => events.length > before, 1000, `event ${n}`)
    out.push(performance.now() - started)
    await sleep(20)
  }
  return out
}

for (const [name, factory] of [
  ['Express 4', express4],
  ['Express 5', express],
] as const) {
  describe(`@ssehub/server/express on ${name}`, () => {
    it('delivers every event at once behind the compression middleware, which leaves the stream uncompressed', async () => {
      const hub = hubOf()
      const origin = await listen(compressedApp(factory, hub))
      // Control: the middleware is live and compresses an ordinary answer.
      const text = await withTimeout(
        fetch(`${origin}/text`, { headers: { 'accept-encoding': 'gzip' } }),
        2000,
        'text',
      )
      assert.equal(text.headers.get('content-encoding'), 'gzip')
      const { res, events } = await gzipEvents(`${origin}/events?channel=news`)
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8')
      assert.equal(res.headers['content-encoding'], undefined)
      await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
      const measured = await delays(hub, events, 5)
      assert.ok(
        measured.every((ms) => ms < 100),
        `delays ${measured.map((ms) => ms.toFixed(1)).join(', ')} ms`,
      )
    })

    it('flushes every event when the stream is compressed after all', async () => {
      const hub = hubOf()
      // Dropping `no-transform` lets `compression` compress the stream: each event must still go
      // out at once, flushed through gzip, rather than wait for the compressor's buffer to fill.
      const origin = await listen(compressedApp(factory, hub, { headers: { 'cache-control': 'no-cache' } }))
      const { res, events } = await gzipEvents(`${origin}/events?channel=news`)
      assert.equal(res.headers['content-encoding'], 'gzip')
      await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
      const measured = await delays(hub, events, 5)
      assert.ok(
        measured.every((ms) => ms < 100),
        `delays ${measured.map((ms) => ms.toFixed(1)).join(', ')} ms`,
      )
      assert.deepEqual(
        events.map((event) => (JSON.parse(event.data) as { n: number }).n),
        [0, 1, 2, 3, 4],
      )
    })

    it('disconnects a client that stops reading a compressed stream once its queue overflows', async () => {
      const hub = hubOf({ maxQueueBytes: 64 * 1024 })
      const origin = await listen(compressedApp(factory, hub, { headers: { 'cache-control': 'no-cache' } }))
      const stalled = await gzipEvents(`${origin}/events?channel=news`)
      assert.equal(stalled.res.headers['content-encoding'], 'gzip')
      stalled.res.pause()
      await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
      let closed = false
      stalled.res.socket.on('close', () => {
        closed = true
      })
      // Random data does not compress: the compressor's output fills the socket like plain text would.
      let published = 0
      while (hub.stats().sessions === 1 && published < 8192) {
        for (let n = 0; n < 8; n++) {
          await withTimeout(hub.publish('news', randomBytes(3072).toString('base64')), 1000, 'publish')
          published++
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.equal(hub.stats().sessions, 0, `still connected after ${published} events`)
      stalled.res.resume()
      await waitFor(() => closed, 5000, 'the connection dropped')
    })

    it('streams a per-request iterable behind the compression middleware without delay', async () => {
      const app = factory()
      app.use(compression())
      const ticks: number[] = []
      app.get('/ticks', (req, res) => {
        void streamEvents(req, res, async function* ({ signal }) {
          for (let n = 0; n < 3 && !signal.aborted; n++) {
            ticks.push(performance.now())
            yield sseEvent({ event: 'tick', id: String(n), data: { n } })
            await sleep(50)
          }
        })
      })
      const origin = await listen(app)
      const { res, events } = await gzipEvents(`${origin}/ticks`)
      const arrivals: number[] = []
      res.on('data', () => arrivals.push(performance.now()))
      await waitFor(() => events.length === 3, 2000, '3 ticks')
      assert.equal(res.headers['content-encoding'], undefined)
      assert.deepEqual(
        events.map((event) => event.id),
        ['0', '1', '2'],
      )
      // Each tick left the server before the next one was produced, 50 ms later.
      assert.ok(arrivals.length >= 3, `${arrivals.length} chunks`)
    })

    it('works as mounted middleware, keeps headers set before it, and passes unexpected errors to next()', async () => {
      const hub = hubOf()
      const app = factory()
      app.use((_req, res, next) => {
        res.set('access-control-allow-origin', 'https://app.example')
        next()
      })
      app.use('/rooms', createSseHandler(hub, { channels: (req) => [`room${req.url?.split('?')[0]}`] }))
      app.get(
        '/broken',
        createSseHandler(hub, {
          channels: () => {
            throw new Error('database password is hunter2')
          },
        }),
      )
      const handled: string[] = []
      app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        handled.push(error.message)
        res.status(500).json({ error: 'handled by the app' })
      })
      const origin = await listen(app)
      const stream = await openSse(`${origin}/rooms/42`, { timeoutMs: 2000 })
      cleanups.push(() => stream.close())
      assert.equal(stream.headers.get('access-control-allow-origin'), 'https://app.example')
      await waitFor(() => hub.stats().sessions === 1, 2000, 'the session')
      await withTimeout(hub.publish('room/42', 'hello room'), 1000, 'publish')
      assert.equal((await stream.waitForEvents(1, 2000))[0]?.data, 'hello room')

      const invalid = await withTimeout(fetch(`${origin}/rooms/a*b`), 2000, 'invalid room')
      assert.equal(invalid.status, 400)
      assert.equal(
        ((await withTimeout(invalid.json(), 2000, 'body')) as { error: { code: string } }).error.code,
        'SSE_ERR_CHANNEL_INVALID',
      )
      const broken = await withTimeout(fetch(`${origin}/broken`), 2000, 'broken')
      assert.equal(broken.status, 500)
      assert.deepEqual(await withTimeout(broken.json(), 2000, 'body'), { error: 'handled by the app' })
      assert.deepEqual(handled, ['database password is hunter2'])
    })

    it('answers HEAD with the event-stream head alone', async () => {
      const hub = hubOf()
      const origin = await listen(compressedApp(factory, hub))
      const head = await withTimeout(fetch(`${origin}/events`, { method: 'HEAD' }), 2000, 'HEAD')
      assert.equal(head.status, 200)
      assert.equal(head.headers.get('content-type'), 'text/event-stream; charset=utf-8')
      assert.equal(hub.stats().sessions, 0)
    })
  })
}
