/**
 * The node:http2 adapter beyond the conformance suite: the compatibility API (headers set on `res`
 * kept, connection-specific ones never sent), the HTTP/1.1 fallback of an `allowHTTP1` server,
 * `HEAD`, errors, and many event streams on one connection.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import {
  type ClientHttp2Session,
  connect,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
} from 'node:http2'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { createHub, type Hub } from '@ssehub/core'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { createSseHandler, lastEventIdOf, serveSse } from '@ssehub/server/http2'
import { waitFor, withTimeout, writeSelfSignedCertificate } from '@ssehub/testkit'

let dir = ''
let tls: { key: Buffer; cert: Buffer }
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssehub-h2-'))
  tls = writeSelfSignedCertificate(dir)
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** Accept the self-signed certificate, and offer only HTTP/1.1 in the TLS handshake (ALPN). */
const HTTP1_OVER_TLS: RequestOptions = { rejectUnauthorized: false, ...{ ALPNProtocols: ['http/1.1'] } }

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse())
    await withTimeout(Promise.resolve(cleanup()), 3000, 'cleanup')
})

function hubOf(): Hub {
  const hub = createHub({ heartbeatMs: false })
  cleanups.push(() => hub.close())
  return hub
}

async function listen(server: Http2Server | Http2SecureServer): Promise<number> {
  const sessions = new Set<Http2Session>()
  server.on('session', (session: Http2Session) => sessions.add(session))
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 2000, 'listen')
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

async function session(origin: string): Promise<ClientHttp2Session> {
  const client = connect(origin, { rejectUnauthorized: false })
  client.on('error', () => {})
  await withTimeout(once(client, 'connect'), 2000, 'connect')
  cleanups.push(() => client.destroy())
  return client
}

function open(client: ClientHttp2Session, headers: Record<string, string>) {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  let head: IncomingHttpHeaders | undefined
  let body = ''
  const stream = client.request(headers)
  stream.on('error', () => {})
  stream.on('response', (value) => {
    head = value
  })
  stream.on('data', (chunk: Buffer) => {
    body += chunk.toString()
    parser.feed(chunk)
  })
  return {
    events,
    get head() {
      return head
    },
    get body() {
      return body
    },
    stream,
  }
}

describe('@ssehub/server/http2', () => {
  it('keeps headers set with res.setHeader() in the compatibility API and never sends connection-specific ones', async (t) => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning.message)
    }
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const hub = hubOf()
    const events = createSseHandler(hub, { headers: { 'keep-alive': 'timeout=5', 'x-extra': 'yes' } })
    const server = createSecureServer({ ...tls, allowHTTP1: true }, (req, res) => {
      res.setHeader('access-control-allow-origin', 'https://app.example')
      events(req, res)
    })
    const port = await listen(server)
    const client = await session(`https://127.0.0.1:${port}`)
    const feed = open(client, { ':path': '/?channel=news' })
    await waitFor(() => feed.head !== undefined, 2000, 'the head')
    assert.equal(feed.head?.[':status'], 200)
    assert.equal(feed.head?.['access-control-allow-origin'], 'https://app.example')
    assert.equal(feed.head?.['x-extra'], 'yes')
    for (const name of ['connection', 'keep-alive', 'transfer-encoding'])
      assert.equal(feed.head?.[name], undefined)
    const invalid = open(client, { ':path': '/?channel=a**' })
    await waitFor(() => invalid.stream.closed, 2000, 'the error answer')
    assert.equal(invalid.head?.[':status'], 400)
    assert.equal(
      invalid.head?.['access-control-allow-origin'],
      'https://app.example',
      'the browser can read it',
    )
    assert.equal(JSON.parse(invalid.body).error.code, 'SSE_ERR_PATTERN_INVALID')
    assert.deepEqual(warnings, [])
  })

  it('serves the HTTP/1.1 requests of an allowHTTP1 server with the node:http adapter', async () => {
    const hub = hubOf()
    const port = await listen(createSecureServer({ ...tls, allowHTTP1: true }, createSseHandler(hub)))
    const received = await withTimeout(
      new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = httpsRequest(`https://127.0.0.1:${port}/?channel=x`, HTTP1_OVER_TLS)
        cleanups.push(() => req.destroy())
        req.on('error', reject)
        req.on('response', (res) => {
          let body = ''
          res.on('data', (chunk: Buffer) => {
            body += chunk
            if (body.includes('data: over http/1.1')) resolve({ headers: res.headers, body })
          })
          void waitFor(() => hub.stats().sessions === 1, 2000, 'the session').then(() =>
            hub.publish('x', 'over http/1.1'),
          )
        })
        req.end()
      }),
      5000,
      'the event over HTTP/1.1',
    )
    assert.equal(received.headers.connection, 'keep-alive')
    assert.equal(received.headers['content-type'], 'text/event-stream; charset=utf-8')
  })

  it('answers HEAD with the head alone and carries 20 event streams on one connection', async () => {
    const hub = hubOf()
    const server = createServer()
    server.on('stream', createSseHandler(hub))
    const port = await listen(server)
    const client = await session(`http://127.0.0.1:${port}`)
    const head = open(client, { ':path': '/', ':method': 'HEAD' })
    await waitFor(() => head.stream.closed, 2000, 'the HEAD answer')
    assert.equal(head.head?.['content-type'], 'text/event-stream; charset=utf-8')
    assert.equal(head.body, '')
    const feeds = Array.from({ length: 20 }, (_, n) =>
      open(client, { ':path': `/?channel=all&channel=s${n}` }),
    )
    await waitFor(() => hub.stats().sessions === 20, 2000, '20 sessions')
    await withTimeout(hub.publish('all', 'everyone'), 1000, 'publish')
    await waitFor(() => feeds.every((feed) => feed.events.length === 1), 2000, 'every stream')
    for (const feed of feeds.slice(0, 10)) feed.stream.close()
    await waitFor(() => hub.stats().sessions === 10, 2000, 'closed streams freed')
  })

  it('reads Last-Event-ID from the header, then the :path query, and serveSse resumes after it', async () => {
    assert.equal(lastEventIdOf({ 'last-event-id': 'h', ':path': '/?lastEventId=q' }), 'h')
    assert.equal(lastEventIdOf({ ':path': '/?lastEventId=q' }), 'q')
    assert.equal(lastEventIdOf({ ':path': '/?lastEventId=' }), undefined)
    const hub = hubOf()
    const first = await withTimeout(hub.publish('x', 'one'), 1000, 'publish')
    await withTimeout(hub.publish('x', 'two'), 1000, 'publish')
    const server = createServer()
    server.on('stream', (stream, headers) => serveSse(hub, stream, headers, { channels: ['x'] }))
    const client = await session(`http://127.0.0.1:${await listen(server)}`)
    const feed = open(client, { ':path': '/', 'last-event-id': first })
    await waitFor(() => feed.events.length === 1, 2000, 'the replay')
    assert.equal(feed.events[0]?.data, 'two')
  })
})
