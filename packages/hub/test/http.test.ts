import assert from 'node:assert/strict'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { test } from 'node:test'
import { openSse, waitFor, withTimeout } from '@ssehub/testkit'
import { answer, publishJson, request, startHub } from './helpers.js'

test('answers 404 with a JSON error for an unknown path', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  for (const path of ['nope', 'events/', 'publish/x', 'favicon.ico', '%2Fhealthz']) {
    const response = await answer(await request(hub.at(path)))
    assert.equal(response.status, 404, path)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(response.body.error.code, 'SSEHUB_ERR_NOT_FOUND')
  }
})

test('answers 405 with an Allow header for a wrong method', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const cases: [string, string, string][] = [
    ['publish', 'GET', 'POST, OPTIONS'],
    ['publish', 'PUT', 'POST, OPTIONS'],
    ['events', 'POST', 'GET, HEAD, OPTIONS'],
    ['healthz', 'DELETE', 'GET, HEAD, OPTIONS'],
    ['', 'POST', 'GET, HEAD, OPTIONS'],
  ]
  for (const [path, method, allow] of cases) {
    const response = await answer(await request(hub.at(path), { method }))
    assert.equal(response.status, 405, `${method} /${path}`)
    assert.equal(response.headers.get('allow'), allow)
    assert.equal(response.body.error.code, 'SSEHUB_ERR_METHOD_NOT_ALLOWED')
  }
})

test('answers 415 for a body that is neither JSON nor form-encoded', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  for (const type of ['text/plain', 'multipart/form-data; boundary=x', undefined]) {
    const response = await answer(
      await request(hub.at('publish'), {
        method: 'POST',
        headers: type === undefined ? {} : { 'content-type': type },
        body: type === undefined ? new Uint8Array([1, 2]) : 'data=x',
      }),
    )
    assert.equal(response.status, 415, String(type))
    assert.equal(response.body.error.code, 'SSEHUB_ERR_CONTENT_TYPE')
  }
  const charset = await publishJson(hub, '{"data":"x"}', {
    'content-type': 'application/json; charset=utf-8',
  })
  assert.equal(charset.status, 200)
})

test('answers 413 for a declared Content-Length over the limit without reading the body', async (t) => {
  const hub = await startHub({ maxBodyBytes: 1024 })
  t.after(() => hub.close())
  const response = await answer(
    await request(hub.at('publish'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: 'x'.repeat(5_000_000) }),
    }),
  )
  assert.equal(response.status, 413)
  assert.equal(response.body.error.code, 'SSEHUB_ERR_BODY_TOO_LARGE')
  const fits = await publishJson(hub, { data: 'x'.repeat(900) })
  assert.equal(fits.status, 200)
})

test('answers 413 as soon as a streamed body passes the limit, without waiting for the rest', async (t) => {
  const hub = await startHub({ maxBodyBytes: 64 * 1024 })
  t.after(() => hub.close())
  const response = await withTimeout(
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        hub.at('publish'),
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        resolve,
      )
      req.on('error', reject)
      // Send a little more than the limit, then keep the request open: a server that waits for
      // the end of the body would never answer.
      req.write(`{"data":"${'x'.repeat(70 * 1024)}`)
    }),
    5000,
    '413 answer',
  )
  assert.equal(response.statusCode, 413)
  assert.equal(response.headers.connection, 'close')
  const text = await withTimeout(
    (async () => {
      let body = ''
      for await (const chunk of response) body += chunk
      return body
    })(),
    5000,
    '413 body',
  )
  assert.equal(JSON.parse(text).error.code, 'SSEHUB_ERR_BODY_TOO_LARGE')
})

test('reports health with the broker state and the number of open streams', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const empty = await answer(await request(hub.at('healthz')))
  assert.equal(empty.status, 200)
  assert.deepEqual(empty.body, { status: 'ok', broker: 'ready', sessions: 0, draining: false })
  const stream = await openSse(hub.at('events'))
  t.after(() => stream.close())
  await waitFor(() => hub.hub.stats().sessions === 1, 2000, 'one session')
  assert.deepEqual((await answer(await request(hub.at('healthz')))).body, {
    status: 'ok',
    broker: 'ready',
    sessions: 1,
    draining: false,
  })
  const head = await request(hub.at('healthz'), { method: 'HEAD' })
  assert.equal(head.status, 200)
})

test('serves a self-contained demo page with a strict content security policy', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const response = await request(hub.url.href)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/)
  const csp = response.headers.get('content-security-policy') ?? ''
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'sha256-/)
  assert.match(csp, /connect-src 'self'/)
  const html = await response.text()
  assert.match(html, /new EventSource\(/)
  assert.match(html, /ssehub\.reset/)
  assert.doesNotMatch(html, /innerHTML/)
  assert.doesNotMatch(html, /(src|href)="https?:/)
})

test('answers 404 at / when the demo page is disabled', async (t) => {
  const hub = await startHub({ demo: false })
  t.after(() => hub.close())
  const response = await answer(await request(hub.url.href))
  assert.equal(response.status, 404)
  assert.equal(response.body.error.code, 'SSEHUB_ERR_NOT_FOUND')
})

test('sends CORS headers with credentials to an allowed origin, on streams and answers', async (t) => {
  const hub = await startHub({ corsOrigins: ['https://app.example', 'http://localhost:3000'] })
  t.after(() => hub.close())
  const stream = await openSse(hub.at('events'), { headers: { origin: 'http://localhost:3000' } })
  t.after(() => stream.close())
  assert.equal(stream.headers.get('access-control-allow-origin'), 'http://localhost:3000')
  assert.equal(stream.headers.get('access-control-allow-credentials'), 'true')
  assert.equal(stream.headers.get('vary'), 'Origin')
  const health = await request(hub.at('healthz'), { headers: { origin: 'https://app.example' } })
  assert.equal(health.headers.get('access-control-allow-origin'), 'https://app.example')
  const error = await request(hub.at('nowhere'), { headers: { origin: 'https://app.example' } })
  assert.equal(error.status, 404)
  assert.equal(error.headers.get('access-control-allow-origin'), 'https://app.example')
})

test('sends no CORS headers to an origin that is not allowed and never reflects it', async (t) => {
  const hub = await startHub({ corsOrigins: ['https://app.example'] })
  t.after(() => hub.close())
  for (const origin of [
    'https://evil.example',
    'https://app.example.evil.example',
    'null',
    'https://APP.example:443/',
  ]) {
    const response = await request(hub.at('healthz'), { headers: { origin } })
    assert.equal(response.headers.get('access-control-allow-origin'), null, origin)
    assert.equal(response.headers.get('access-control-allow-credentials'), null, origin)
    assert.equal(response.headers.get('vary'), 'Origin')
  }
  const preflight = await request(hub.at('publish'), {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  })
  assert.equal(preflight.status, 204)
  assert.equal(preflight.headers.get('access-control-allow-origin'), null)
  assert.equal(preflight.headers.get('access-control-allow-methods'), null)
})

test('answers a preflight from an allowed origin with methods, headers and max age', async (t) => {
  const hub = await startHub({ corsOrigins: ['https://app.example'] })
  t.after(() => hub.close())
  const response = await request(hub.at('events'), {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'last-event-id, authorization',
      'access-control-request-private-network': 'true',
    },
  })
  assert.equal(response.status, 204)
  assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example')
  assert.equal(response.headers.get('access-control-allow-credentials'), 'true')
  assert.equal(response.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS')
  assert.equal(
    response.headers.get('access-control-allow-headers'),
    'content-type, last-event-id, authorization, cache-control',
  )
  assert.equal(response.headers.get('access-control-allow-private-network'), 'true')
  assert.ok(Number(response.headers.get('access-control-max-age')) > 0)
  assert.equal(response.headers.get('allow'), 'GET, HEAD, OPTIONS')
})

test('allows any origin with * but never with credentials', async (t) => {
  const hub = await startHub({ corsOrigins: ['*', 'https://trusted.example'] })
  t.after(() => hub.close())
  const any = await request(hub.at('healthz'), { headers: { origin: 'https://anyone.example' } })
  assert.equal(any.headers.get('access-control-allow-origin'), '*')
  assert.equal(any.headers.get('access-control-allow-credentials'), null)
  const trusted = await request(hub.at('healthz'), { headers: { origin: 'https://trusted.example' } })
  assert.equal(trusted.headers.get('access-control-allow-origin'), 'https://trusted.example')
  assert.equal(trusted.headers.get('access-control-allow-credentials'), 'true')
  const preflight = await request(hub.at('publish'), {
    method: 'OPTIONS',
    headers: { origin: 'https://anyone.example', 'access-control-request-method': 'POST' },
  })
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*')
  assert.equal(preflight.headers.get('access-control-allow-credentials'), null)
  const publish = await publishJson(hub, { data: 'x' }, { origin: 'https://anyone.example' })
  assert.equal(publish.status, 200)
})

test('sends no CORS headers at all when no origin is configured', async (t) => {
  const hub = await startHub()
  t.after(() => hub.close())
  const response = await request(hub.at('healthz'), { headers: { origin: 'https://app.example' } })
  assert.equal(response.headers.get('access-control-allow-origin'), null)
  assert.equal(response.headers.get('vary'), null)
})
