/**
 * Redirects: the client lets fetch follow them (browsers hide the Location of a manual redirect).
 * These tests pin down what Node's fetch does with credentials, so that an upgrade that changed
 * it would fail here: `Authorization` and `Cookie` must not cross origins (CVE-2022-1650 in the
 * `eventsource` package was exactly that).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connect } from '@ssehub/client'
import { waitFor } from '@ssehub/testkit'
import { record, scriptedStream, startServer, type TestServer } from './helpers.js'

let home: TestServer // 127.0.0.1
let other: TestServer // localhost: another origin
const clients: { close(): void }[] = []

before(async () => {
  other = await startServer(
    scriptedStream([['retry: 1\nid: far-1\ndata: from the other origin\n\n']]),
    'localhost',
  )
  const stream = scriptedStream([['retry: 1\nid: near-1\ndata: from home\n\n']])
  home = await startServer((req, res, seen, index) => {
    const [path] = seen.url.split('?')
    if (path === '/cross') res.writeHead(307, { location: other.url('/events') }).end()
    else if (path === '/cross-302') res.writeHead(302, { location: other.url('/events') }).end()
    else if (path === '/same') res.writeHead(301, { location: '/final' }).end()
    else if (path === '/final') return stream(req, res, seen, index)
    else res.writeHead(404).end()
  })
})
after(async () => {
  for (const client of clients) client.close()
  await home.close()
  await other.close()
})

const credentials = { authorization: 'Bearer secret', cookie: 'session=s3cr3t', 'x-app': 'kept' }

describe('redirects', () => {
  test('drops Authorization and Cookie when a redirect crosses origins, and keeps other headers', async () => {
    const client = connect(home.url('/cross'), { headers: credentials, lastEventId: 'start' })
    clients.push(client)
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    client.close()
    const [redirected] = other.requests
    assert.ok(redirected !== undefined)
    assert.equal(redirected.headers.authorization, undefined)
    assert.equal(redirected.headers.cookie, undefined)
    assert.equal(redirected.headers['x-app'], 'kept')
    assert.equal(redirected.headers['last-event-id'], 'start')
    assert.equal(redirected.headers.accept, 'text/event-stream')
    // The first hop did get them: they are only dropped on the way to the other origin.
    assert.equal(home.requests.at(-1)?.headers.authorization, 'Bearer secret')
  })

  test('keeps Authorization and Cookie on a same-origin redirect', async () => {
    const before = home.requests.length
    const client = connect(home.url('/same'), { headers: credentials })
    clients.push(client)
    const recorder = record(client)
    await recorder.until(() => recorder.of('message').length === 1)
    client.close()
    const final = home.requests.slice(before).find((request) => request.url === '/final')
    assert.equal(final?.headers.authorization, 'Bearer secret')
    assert.equal(final?.headers.cookie, 'session=s3cr3t')
  })

  test('gives events the origin of the final URL and reconnects through the original URL', async () => {
    const start = { home: home.requests.length, other: other.requests.length }
    const client = connect(home.url('/cross'), { retryMs: 1 })
    clients.push(client)
    const origins: string[] = []
    client.onmessage = (event) => origins.push(event.origin)
    await waitFor(() => origins.length >= 2, 5000, 'two connections')
    client.close()
    assert.equal(origins[0], other.origin)
    assert.equal(client.url, home.url('/cross'))
    // Each reconnect starts at the URL the client was given, with the id learned on the other origin.
    // (Only /cross requests: a client of an earlier test may have reconnected before it closed.)
    const homeRequests = home.requests
      .slice(start.home)
      .filter((request) => request.url.split('?')[0] === '/cross')
    assert.ok(homeRequests.length >= 2)
    assert.equal(homeRequests[1]?.headers['last-event-id'], 'far-1')
    assert.ok(other.requests.length - start.other >= 2)
  })

  test('a POST redirected with 302 arrives as a GET without its body (fetch semantics)', async () => {
    const before = other.requests.length
    const client = connect(home.url('/cross-302'), { method: 'POST', body: 'payload', reconnect: false })
    clients.push(client)
    await record(client).closed()
    const redirected = other.requests[before]
    assert.equal(redirected?.method, 'GET')
    assert.equal(redirected?.body, '')
  })
})
