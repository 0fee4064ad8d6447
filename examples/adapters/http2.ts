/**
 * `@ssehub/server/http2`: event streams over HTTP/2, so a browser multiplexes any number of them
 * over one connection. With a certificate: HTTPS with an HTTP/1.1 fallback (what browsers need);
 * without: h2c (for clients that speak it, such as `curl --http2-prior-knowledge`).
 * Run: `SSEHUB_TLS_CERT=cert.pem SSEHUB_TLS_KEY=key.pem npx tsx --conditions=@ssehub/source examples/adapters/http2.ts`.
 */

import { readFileSync } from 'node:fs'
import { createSecureServer, createServer, type Http2SecureServer, type Http2Server } from 'node:http2'
import { fileURLToPath } from 'node:url'
import { createHub, type Hub } from '@ssehub/core'
import { createSseHandler, sseEvent, streamEvents } from '@ssehub/server/http2'

export function createApp(
  hub: Hub,
  tls?: { cert: Buffer | string; key: Buffer | string },
): Http2Server | Http2SecureServer {
  const events = createSseHandler(hub) // serves HTTP/2 streams, and HTTP/1.1 requests of allowHTTP1
  if (tls !== undefined) {
    // The compatibility API: `(req, res)` for both protocols; headers set on `res` are kept.
    return createSecureServer({ ...tls, allowHTTP1: true }, (req, res) => {
      if (req.url.startsWith('/events')) events(req, res)
      else res.writeHead(404).end()
    })
  }
  // The core API: one `stream` event per request.
  const server = createServer()
  server.on('stream', (stream, headers) => {
    const path = headers[':path'] ?? '/'
    if (path.startsWith('/events')) events(stream, headers)
    else if (path === '/countdown') {
      void streamEvents(stream, headers, async function* () {
        for (let n = 3; n > 0; n--) yield sseEvent({ event: 'tick', id: String(n), data: { n } })
      })
    } else stream.respond({ ':status': 404 }, { endStream: true })
  })
  return server
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { SSEHUB_TLS_CERT: cert, SSEHUB_TLS_KEY: key } = process.env
  const hub = createHub()
  const tls = cert && key ? { cert: readFileSync(cert), key: readFileSync(key) } : undefined
  createApp(hub, tls).listen(3006, () =>
    console.log(`${tls ? 'https' : 'http (h2c)'}://localhost:3006/events?channel=clock`),
  )
  setInterval(() => void hub.publish('clock', { now: new Date().toISOString() }), 1000)
}
