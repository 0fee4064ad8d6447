/**
 * The plain `node:http` SSE baseline (servers/node-http-server.mjs): no library, no tricks, what
 * a developer writes first. Several processes share publishes through Redis pub/sub.
 */
import { startNodeServers } from './node-servers.js'
import type { Peer } from './types.js'

export const nodeHttp: Peer = {
  name: 'node-http',
  label: `node:http baseline (Node ${process.versions.node}; processes share publishes via Redis pub/sub)`,
  supports: { replay: false, multiProcess: true },
  async available() {
    return undefined
  },
  async install() {},
  start: (options) => startNodeServers('node-http', 'node-http-server.mjs', options),
}
