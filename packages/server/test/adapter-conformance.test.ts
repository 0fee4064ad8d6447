import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import {
  createServer as createH2cServer,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
} from 'node:http2'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { getRequestListener } from '@hono/node-server'
import * as expressAdapter from '@ssehub/server/express'
import * as fastifyAdapter from '@ssehub/server/fastify'
import * as fetchAdapter from '@ssehub/server/fetch'
import * as honoAdapter from '@ssehub/server/hono'
import * as http2Adapter from '@ssehub/server/http2'
import * as nodeAdapter from '@ssehub/server/node'
import { runAdapterConformance, withTimeout, writeSelfSignedCertificate } from '@ssehub/testkit'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { Hono } from 'hono'

type Start = Parameters<typeof runAdapterConformance>[0]['start']

// The npm alias `express4` (express@4) has no types of its own; its API is the one used here.
const express4 = createRequire(import.meta.url)('express4') as typeof express

function pathOf(url: string | undefined): string {
  return new URL(url ?? '/', 'http://localhost').pathname
}

/** Listens on 127.0.0.1, port 0; `close` drops every connection. */
async function listen(server: Server): Promise<{ port: number; close: () => Promise<void> }> {
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections()
      await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 2000, 'close')
    },
  }
}

/** The same for HTTP/2 servers, which track sessions rather than sockets. */
async function listenHttp2(
  server: Http2Server | Http2SecureServer,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sessions = new Set<Http2Session>()
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const session of sessions) session.destroy()
      await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 2000, 'close')
    },
  }
}

let certificate: { key: Buffer; cert: Buffer } | undefined
/** A self-signed certificate for 127.0.0.1 and localhost, made once with the openssl CLI. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  if (certificate !== undefined) return certificate
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-tls-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  certificate = writeSelfSignedCertificate(dir)
  return certificate
}

const startNode: Start = async ({ hub, source, streamOptions }) => {
  const events = nodeAdapter.createSseHandler(hub)
  return listen(
    createServer((req, res) => {
      const path = pathOf(req.url)
      if (path === '/hub') events(req, res)
      else if (path === '/iterable') void nodeAdapter.streamEvents(req, res, source, streamOptions)
      else res.writeHead(404).end()
    }),
  )
}

function startExpress(factory: typeof express): Start {
  return async ({ hub, source, streamOptions }) => {
    const app = factory()
    app.get('/hub', expressAdapter.createSseHandler(hub))
    app.get('/iterable', (req, res) => {
      void expressAdapter.streamEvents(req, res, source, streamOptions)
    })
    return listen(createServer(app))
  }
}

function startFastify(http2: boolean): Start {
  return async ({ hub, source, streamOptions }) => {
    // One route table for both server types; the adapter tells HTTP/2 requests apart at run time.
    const app = (
      http2 ? Fastify({ http2: true, forceCloseConnections: true }) : Fastify({ forceCloseConnections: true })
    ) as FastifyInstance
    app.get('/hub', fastifyAdapter.createSseHandler(hub))
    app.get('/iterable', (request, reply) => {
      void fastifyAdapter.streamEvents(request, reply, source, streamOptions)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address() as AddressInfo
    return { port: address.port, close: () => app.close() }
  }
}

const startFetch: Start = async ({ hub, source, streamOptions }) => {
  const events = fetchAdapter.createSseHandler(hub)
  const handler = (request: Request): Response =>
    new URL(request.url).pathname === '/hub'
      ? events(request)
      : fetchAdapter.streamEvents(request, source, streamOptions)
  return listen(createServer(getRequestListener(handler)))
}

const startHono: Start = async ({ hub, source, streamOptions }) => {
  const app = new Hono()
  app.get('/hub', honoAdapter.createSseHandler(hub))
  app.get('/iterable', (c) => honoAdapter.streamEvents(c, source, streamOptions))
  return listen(createServer(getRequestListener(app.fetch)))
}

/** h2c with the core API: `server.on('stream')`. */
const startH2c: Start = async ({ hub, source, streamOptions }) => {
  const events = http2Adapter.createSseHandler(hub)
  const server = createH2cServer()
  server.on('stream', (stream, headers) => {
    if (pathOf(headers[':path']) === '/hub') events(stream, headers)
    else void http2Adapter.streamEvents(stream, headers, source, streamOptions)
  })
  return listenHttp2(server)
}

/** TLS with the compatibility API and an HTTP/1.1 fallback, as the hub serves it. */
const startH2Tls: Start = async ({ hub, source, streamOptions }) => {
  const events = http2Adapter.createSseHandler(hub)
  const server = createSecureServer({ ...selfSigned(), allowHTTP1: true }, (req, res) => {
    if (pathOf(req.url) === '/hub') events(req, res)
    else void http2Adapter.streamEvents(req.stream, req.headers, source, streamOptions)
  })
  return listenHttp2(server)
}

runAdapterConformance({ name: 'node:http', start: startNode, sseEvent: nodeAdapter.sseEvent })
runAdapterConformance({ name: 'Express 4', start: startExpress(express4), sseEvent: expressAdapter.sseEvent })
runAdapterConformance({ name: 'Express 5', start: startExpress(express), sseEvent: expressAdapter.sseEvent })
runAdapterConformance({ name: 'Fastify 5', start: startFastify(false), sseEvent: fastifyAdapter.sseEvent })
runAdapterConformance({
  name: 'Fastify 5 (http2: true, h2c)',
  protocol: 'h2c',
  start: startFastify(true),
  sseEvent: fastifyAdapter.sseEvent,
})
runAdapterConformance({ name: 'Fetch', start: startFetch, sseEvent: fetchAdapter.sseEvent })
runAdapterConformance({ name: 'Hono', start: startHono, sseEvent: honoAdapter.sseEvent })
runAdapterConformance({
  name: 'node:http2 h2c',
  protocol: 'h2c',
  start: startH2c,
  sseEvent: http2Adapter.sseEvent,
})
runAdapterConformance({
  name: 'node:http2 TLS',
  protocol: 'h2',
  start: startH2Tls,
  sseEvent: http2Adapter.sseEvent,
})
