/**
 * The hub over HTTPS: HTTP/2 with an HTTP/1.1 fallback on one port (`--tls-cert`/`--tls-key`,
 * `createHubServer({ tls })`). The certificate is made for the test with the openssl CLI.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import { type ClientHttp2Session, connect, constants } from 'node:http2'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { createParser, type ParsedEvent } from '@ssehub/core/wire'
import { waitFor, withTimeout, writeSelfSignedCertificate } from '@ssehub/testkit'
import { createHubServer, resolveServeConfig } from 'ssehub'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
let dir = ''
let tls: { cert: Buffer; key: Buffer }

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssehub-hub-tls-'))
  tls = writeSelfSignedCertificate(dir)
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** An HTTP/2 session to the hub that accepts its self-signed certificate. */
async function h2(url: URL): Promise<ClientHttp2Session> {
  const session = connect(url.origin, { rejectUnauthorized: false })
  session.on('error', () => {})
  await withTimeout(once(session, 'connect'), 2000, 'HTTP/2 connect')
  return session
}

/** One event stream on an HTTP/2 session. */
function h2Events(session: ClientHttp2Session, path: string) {
  const events: ParsedEvent[] = []
  let headers: IncomingHttpHeaders | undefined
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const stream = session.request({ ':path': path, accept: 'text/event-stream' })
  stream.on('error', () => {})
  stream.on('response', (head) => {
    headers = head
  })
  stream.on('data', (chunk: Buffer) => parser.feed(chunk))
  return {
    events,
    get headers() {
      return headers
    },
    stream,
  }
}

/** A request over HTTP/2; resolves with the status, headers and body. */
async function h2Request(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const stream = session.request(headers)
  stream.setEncoding('utf8')
  let text = ''
  stream.on('data', (chunk: string) => {
    text += chunk
  })
  const ended = once(stream, 'end')
  stream.end(body)
  const [head] = (await withTimeout(once(stream, 'response'), 2000, 'response')) as [IncomingHttpHeaders]
  await withTimeout(ended, 2000, 'end of body')
  return { status: Number(head[':status']), headers: head, body: text }
}

/** Accept the self-signed certificate, and offer only HTTP/1.1 in the TLS handshake (ALPN). */
const HTTP1_OVER_TLS: RequestOptions = { rejectUnauthorized: false, ...{ ALPNProtocols: ['http/1.1'] } }

/** A request over HTTPS/1.1. */
function http1Request(
  url: URL,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; alpn: string | false }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, ...HTTP1_OVER_TLS })
      req.on('error', reject)
      req.on('response', (res) => {
        const alpn = (res.socket as { alpnProtocol?: string | false }).alpnProtocol ?? false
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            alpn,
          }),
        )
      })
      req.end(body)
    }),
    5000,
    `${method} ${url.pathname}`,
  )
}

describe('the hub over HTTPS', () => {
  test('serves event streams over HTTP/2 without connection-specific headers, and publishes over both protocols', async (t) => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning.message)
    }
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, tls })
    t.after(() => withTimeout(hubServer.close(), 10_000, 'close'))
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    assert.equal(url.protocol, 'https:')
    const session = await h2(url)
    t.after(() => session.destroy())
    const feed = h2Events(session, '/events?channel=news')
    await waitFor(
      () => feed.headers !== undefined && hubServer.hub.stats().sessions === 1,
      2000,
      'the stream open',
    )
    assert.equal(feed.headers?.[':status'], 200)
    assert.equal(feed.headers?.['content-type'], 'text/event-stream; charset=utf-8')
    for (const name of ['connection', 'keep-alive', 'transfer-encoding'])
      assert.equal(feed.headers?.[name], undefined)

    // A browser page served by the hub publishes with an Origin equal to :authority (no Host header).
    const origin = url.origin
    const published = await h2Request(
      session,
      { ':method': 'POST', ':path': '/publish', 'content-type': 'application/json', origin },
      JSON.stringify({ channel: 'news', data: 'over h2' }),
    )
    assert.equal(published.status, 200, published.body)
    const viaHttp1 = await http1Request(
      new URL('/publish', url),
      'POST',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'channel=news&data=over+http%2F1.1',
    )
    assert.equal(viaHttp1.status, 200, viaHttp1.body)
    assert.equal(viaHttp1.alpn, 'http/1.1')
    await waitFor(() => feed.events.length === 2, 2000, 'both events')
    assert.deepEqual(
      feed.events.map((event) => event.data),
      ['over h2', 'over http/1.1'],
    )

    // An error answer that the HTTP/1.1 code closes with `connection: close` goes out cleanly.
    const refused = await h2Request(
      session,
      { ':method': 'POST', ':path': '/publish', 'content-type': 'text/plain' },
      'hello',
    )
    assert.equal(refused.status, 415)
    assert.equal(refused.headers.connection, undefined)
    assert.equal(JSON.parse(refused.body).error.code, 'SSEHUB_ERR_CONTENT_TYPE')
    const health = await h2Request(session, { ':path': '/healthz' })
    assert.equal(JSON.parse(health.body).sessions, 1)
    assert.deepEqual(warnings, [])
  })

  test('multiplexes many event streams over one HTTP/2 connection', async (t) => {
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, tls })
    t.after(() => withTimeout(hubServer.close(), 10_000, 'close'))
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    const connections: unknown[] = []
    hubServer.server.on('secureConnection', (socket) => connections.push(socket))
    const session = await h2(url)
    t.after(() => session.destroy())
    const feeds = Array.from({ length: 20 }, (_, n) =>
      h2Events(session, `/events?channel=room/${n}&channel=all`),
    )
    await waitFor(() => hubServer.hub.stats().sessions === 20, 3000, '20 streams open')
    await withTimeout(hubServer.hub.publish('all', 'to everyone'), 1000, 'publish')
    for (let n = 0; n < 20; n++)
      await withTimeout(hubServer.hub.publish(`room/${n}`, `to room ${n}`), 1000, 'publish')
    await waitFor(() => feeds.every((feed) => feed.events.length === 2), 3000, 'every stream served')
    feeds.forEach((feed, n) => {
      assert.deepEqual(
        feed.events.map((event) => event.data),
        ['to everyone', `to room ${n}`],
      )
    })
    assert.equal(connections.length, 1, 'one connection carries every stream')
  })

  test('streams over the HTTP/1.1 fallback too', async (t) => {
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, retryMs: 1000, tls })
    t.after(() => withTimeout(hubServer.close(), 10_000, 'close'))
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    const received = await withTimeout(
      new Promise<{ headers: IncomingHttpHeaders; body: string; alpn: unknown }>((resolve, reject) => {
        const req = httpsRequest(new URL('/events?channel=x', url), {
          ...HTTP1_OVER_TLS,
          headers: { accept: 'text/event-stream' },
        })
        req.on('error', reject)
        req.on('response', (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
            if (body.includes('data: hi')) {
              resolve({
                headers: res.headers,
                body,
                alpn: (res.socket as { alpnProtocol?: unknown }).alpnProtocol,
              })
              req.destroy()
            }
          })
          waitFor(() => hubServer.hub.stats().sessions === 1, 2000, 'the session').then(
            () => hubServer.hub.publish('x', 'hi'),
            reject,
          )
        })
        req.end()
      }),
      5000,
      'an event over HTTP/1.1',
    )
    assert.equal(received.alpn, 'http/1.1')
    assert.equal(received.headers['content-type'], 'text/event-stream; charset=utf-8')
    assert.equal(received.headers.connection, 'keep-alive')
    assert.ok(received.body.startsWith('retry: 1000\n\n'))
  })

  test('close() ends open streams and idle connections of both protocols promptly', async () => {
    const hubServer = createHubServer({ host: '127.0.0.1', port: 0, heartbeatMs: false, tls })
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    const session = await h2(url)
    const feed = h2Events(session, '/events?channel=a')
    const idle = await h2(url)
    await h2Request(idle, { ':path': '/healthz' })
    await http1Request(new URL('/healthz', url), 'GET', { connection: 'keep-alive' })
    await waitFor(() => hubServer.hub.stats().sessions === 1, 2000, 'the stream open')
    const started = Date.now()
    await withTimeout(hubServer.close(), 3000, 'close')
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`)
    await waitFor(() => feed.stream.closed, 2000, 'the stream closed')
    assert.equal(feed.stream.rstCode, constants.NGHTTP2_NO_ERROR, 'ended, not reset')
    assert.equal(hubServer.server.listening, false)
    session.destroy()
    idle.destroy()
  })

  test('cuts connections that send no complete request within the headers timeout, yet keeps streams open', async (t) => {
    const hubServer = createHubServer({
      host: '127.0.0.1',
      port: 0,
      heartbeatMs: 200,
      tls,
      headersTimeoutMs: 600,
    })
    const url = await withTimeout(hubServer.listen(), 5000, 'listen')
    t.after(() => withTimeout(hubServer.close(), 8000, 'close'))
    // A stream over HTTP/2 that outlives the timeout several times over.
    const session = await h2(url)
    t.after(() => session.destroy())
    const live = h2Events(session, '/events?channel=slow')
    await waitFor(() => hubServer.hub.subscriberCount('slow') === 1, 3000, 'subscribed')
    // Half-sent HTTP/1.1 headers over TLS, and an HTTP/2 connection that never opens a stream.
    const slow = tlsConnect({
      host: '127.0.0.1',
      port: Number(url.port),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    })
    slow.on('error', () => {})
    t.after(() => slow.destroy())
    await withTimeout(once(slow, 'secureConnect'), 2000, 'TLS handshake')
    slow.write(`GET /events?channel=x HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `)
    const idle = await h2(url)
    t.after(() => idle.destroy())
    const started = Date.now()
    await withTimeout(once(slow, 'close'), 4000, 'half-sent headers cut')
    await withTimeout(once(idle, 'close'), 4000, 'idle HTTP/2 connection closed')
    assert.ok(Date.now() - started < 3000, `cut after ${Date.now() - started} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const publish = await h2Request(
      session,
      { ':method': 'POST', ':path': '/publish', 'content-type': 'application/json' },
      JSON.stringify({ channel: 'slow', data: 'still here' }),
    )
    assert.equal(publish.status, 200)
    await waitFor(
      () => live.events.some((event) => event.data === 'still here'),
      3000,
      'event on the long stream',
    )
    assert.equal(session.closed, false)
  })

  test('rejects a certificate and key that cannot be used, naming the option', () => {
    assert.throws(
      () => createHubServer({ tls: { cert: 'not a certificate', key: tls.key } }),
      (error: unknown) => (error as { code?: string; field?: string }).field === 'tls',
    )
  })
})

describe('ssehub serve --tls-cert/--tls-key', () => {
  test('reads the files from flags or SSEHUB_TLS_CERT/SSEHUB_TLS_KEY, and needs both', () => {
    assert.equal(resolveServeConfig([], {}).tlsCert, false)
    const fromEnv = resolveServeConfig([], { SSEHUB_TLS_CERT: '/c.pem', SSEHUB_TLS_KEY: '/k.pem' })
    assert.deepEqual([fromEnv.tlsCert, fromEnv.tlsKey], ['/c.pem', '/k.pem'])
    const fromFlags = resolveServeConfig(['--tls-cert', 'a.pem', '--tls-key', 'b.pem'], {
      SSEHUB_TLS_CERT: 'x',
    })
    assert.deepEqual([fromFlags.tlsCert, fromFlags.tlsKey], ['a.pem', 'b.pem'])
    assert.throws(
      () => resolveServeConfig(['--tls-cert', 'a.pem'], {}),
      (error: unknown) => (error as Error).message === '--tls-cert needs --tls-key (or SSEHUB_TLS_KEY)',
    )
  })

  test('exits 2 for a missing certificate file, and otherwise serves https', async (t) => {
    const run = (args: string[]): { child: ChildProcess; out: () => string; exited: Promise<unknown> } => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=@ssehub/source', 'packages/hub/src/cli.ts', 'serve', ...args],
        { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk
      })
      child.stderr?.on('data', (chunk: Buffer) => {
        out += chunk
      })
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      })
      return { child, out: () => out, exited: once(child, 'exit') }
    }
    const missing = run([
      '--port',
      '0',
      '--tls-cert',
      join(dir, 'nope.pem'),
      '--tls-key',
      join(dir, 'key.pem'),
    ])
    const [code] = (await withTimeout(missing.exited, 20_000, 'exit')) as [number]
    assert.equal(code, 2)
    assert.match(missing.out(), /cannot read --tls-cert ".*nope\.pem" \(ENOENT\)/)

    writeFileSync(join(dir, 'garbage.pem'), 'garbage')
    const serving = run([
      '--port',
      '0',
      '--tls-cert',
      join(dir, 'cert.pem'),
      '--tls-key',
      join(dir, 'key.pem'),
    ])
    await waitFor(() => /listening on https:\/\/localhost:\d+/.test(serving.out()), 20_000, 'the https URL')
    const port = Number(/localhost:(\d+)/.exec(serving.out())?.[1])
    const health = await http1Request(new URL(`https://127.0.0.1:${port}/healthz`), 'GET')
    assert.equal(health.status, 200)
    serving.child.kill('SIGTERM')
    const [stopped] = (await withTimeout(serving.exited, 10_000, 'exit')) as [number]
    assert.equal(stopped, 0)
  })
})
