// better-sse as its documentation shows it: one session per request (`createSession`), one
// channel per name (`createChannel`, sessions `register`ed with it), a publish `broadcast` to the
// channel. better-sse is installed into .bench-peers/ at the repo root (bench/peers/better-sse.ts).
//
//   GET  /events?channel=X            an event stream of channel X
//   POST /publish?channel=X  <body>   the raw body is the event's data
//
// Environment: PORT, HOST (default 127.0.0.1), HEARTBEAT_MS (better-sse's `keepAlive`; its own
// default, 10 s, when unset), BETTER_SSE (the package's entry file), and REDIS_URL / FANOUT_PREFIX
// when it runs as several processes (see fanout.mjs, which also holds the HTTP server).
//
// One option differs from the defaults: `serializer: String`. better-sse JSON-encodes data by
// default (`"s=1 ..."` with quotes); the benchmark sends the same raw text through every server.
import { pathToFileURL } from 'node:url'
import { serveChannels } from './fanout.mjs'

const { createChannel, createSession } = await import(pathToFileURL(process.env.BETTER_SSE).href)

const heartbeatMs = process.env.HEARTBEAT_MS
const sessionOptions = { serializer: String }
if (heartbeatMs !== undefined && heartbeatMs !== '') sessionOptions.keepAlive = Number(heartbeatMs)

/** @type {Map<string, ReturnType<typeof createChannel>>} */
const channels = new Map()

function channelOf(name) {
  let channel = channels.get(name)
  if (channel === undefined) {
    channel = createChannel()
    channels.set(name, channel)
    channel.on('session-deregistered', () => {
      if (channel.sessionCount === 0) channels.delete(name)
    })
  }
  return channel
}

await serveChannels({
  async subscribe(name, req, res) {
    const session = await createSession(req, res, sessionOptions)
    channelOf(name).register(session)
  },
  deliver: (name, data) => channels.get(name)?.broadcast(data),
})
