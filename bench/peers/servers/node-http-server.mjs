// The plain node:http SSE baseline: what a developer writes without a library. A Map from
// channel to the set of open responses; a publish writes `data: ...\n\n` to each of them.
//
//   GET  /events?channel=X            an event stream of channel X
//   POST /publish?channel=X  <body>   the raw body is the event's data
//
// Environment: PORT, HOST (default 127.0.0.1), HEARTBEAT_MS (a `:` comment to every stream at
// that interval; none when unset), MAX_BUFFERED_BYTES (a stream whose unsent bytes exceed it is
// closed: the one guard against a client that stopped reading; default 1 MiB), and REDIS_URL /
// FANOUT_PREFIX when it runs as several processes (see fanout.mjs, which also holds the HTTP server).
import { serveChannels } from './fanout.mjs'

const maxBuffered = Number(process.env.MAX_BUFFERED_BYTES ?? 1 << 20)
/** @type {Map<string, Set<import('node:http').ServerResponse>>} */
const channels = new Map()

function send(res, text) {
  res.write(text)
  if (res.writableLength > maxBuffered) res.destroy()
}

function deliver(channel, data) {
  const subscribers = channels.get(channel)
  if (subscribers === undefined) return
  const text = `data: ${data.split('\n').join('\ndata: ')}\n\n`
  for (const res of subscribers) send(res, text)
}

function subscribe(channel, _req, res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
  let subscribers = channels.get(channel)
  if (subscribers === undefined) {
    subscribers = new Set()
    channels.set(channel, subscribers)
  }
  subscribers.add(res)
  res.flushHeaders()
  res.on('close', () => {
    subscribers.delete(res)
    if (subscribers.size === 0) channels.delete(channel)
  })
}

await serveChannels({ subscribe, deliver })

const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 0)
if (heartbeatMs > 0) {
  setInterval(() => {
    for (const subscribers of channels.values()) for (const res of subscribers) send(res, ':\n\n')
  }, heartbeatMs)
}
