/**
 * The benchmark's peers: ssehub and the servers people would otherwise run, each behind the
 * `Peer` contract (types.ts). The harness starts them one after the other on the same machine.
 */
import { betterSse } from './better-sse.js'
import { flaskSse } from './flask-sse.js'
import { nchan } from './nchan.js'
import { nodeHttp } from './node-http.js'
import { ssehub } from './ssehub.js'
import type { Peer } from './types.js'

export type { Peer, PeerName, PeerStartOptions, RunningPeer } from './types.js'

export const PEERS: readonly Peer[] = [ssehub, nchan, betterSse, nodeHttp, flaskSse]

/** The peer of that name, or undefined. */
export function peerByName(name: string): Peer | undefined {
  return PEERS.find((peer) => peer.name === name)
}
