// What the Node peers (node-http, better-sse) share: their HTTP server (`serveChannels`: the
// routes below, the peer brings only how a stream subscribes and how an event is delivered) and
// the cross-process fan-out for when they run as several processes: the way such servers are
// deployed, one Redis pub/sub subscription per process. A publish received by any process is
// PUBLISHed to Redis under `<prefix><channel>`; every process (PSUBSCRIBEd to `<prefix>*`)
// delivers it to its own subscribers. One process: no Redis at all, a publish is delivered in place.
//
//   GET  /events?channel=X            an event stream of channel X
//   POST /publish?channel=X  <body>   the raw body is the event's data
//
// Environment: PORT, HOST (default 127.0.0.1), REDIS_URL (set only when the peer runs more than
// one process), FANOUT_PREFIX.
import { createServer } from 'node:http'

/**
 * @param {(channel: string, data: string) => void} deliver delivers to this process's subscribers
 * @returns {Promise<(channel: string, data: string) => Promise<void>>} what POST /publish calls
 */
export async function createFanout(deliver) {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') {
    return async (channel, data) => deliver(channel, data)
  }
  const prefix = process.env.FANOUT_PREFIX ?? 'bench:'
  // `redis` (node-redis) is a dependency of the ssehub workspace, resolved from the repo root.
  const { createClient } = await import('redis')
  const publisher = createClient({ url })
  const subscriber = publisher.duplicate()
  publisher.on('error', (error) => console.error('redis publisher:', error.message))
  subscriber.on('error', (error) => console.error('redis subscriber:', error.message))
  await Promise.all([publisher.connect(), subscriber.connect()])
  await subscriber.pSubscribe(`${prefix}*`, (message, channel) =>
    deliver(channel.slice(prefix.length), message),
  )
  return async (channel, data) => {
    await publisher.publish(`${prefix}${channel}`, data)
  }
}

/**
 * Reads a request body, refusing more than `limit` bytes (every buffer is bounded).
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<string>}
 */
export function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > limit) {
        req.destroy()
        reject(new Error('body too large'))
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/**
 * Starts the HTTP server of a Node peer on PORT and HOST: `GET /events?channel=X` is handed to
 * `subscribe`, `POST /publish?channel=X` publishes the raw body through the fan-out (`deliver`
 * then runs in every process) and answers `ok`, anything else is a 404.
 * @param {{
 *   subscribe: (channel: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => unknown,
 *   deliver: (channel: string, data: string) => void,
 * }} peer
 * @returns {Promise<import('node:http').Server>}
 */
export async function serveChannels({ subscribe, deliver }) {
  const publish = await createFanout(deliver)
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const channel = url.searchParams.get('channel') ?? 'default'
    if (req.method === 'GET' && url.pathname === '/events') {
      await subscribe(channel, req, res)
      return
    }
    if (req.method === 'POST' && url.pathname === '/publish') {
      try {
        await publish(channel, await readBody(req))
        res.end('ok\n')
      } catch (error) {
        res.statusCode = 500
        res.end(`${error.message}\n`)
      }
      return
    }
    res.statusCode = 404
    res.end('not found\n')
  })
  server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1')
  return server
}
