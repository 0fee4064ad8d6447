import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'

/** Strips brackets, a port and an IPv6 zone, and unmaps IPv4-mapped IPv6; undefined if not an IP. */
function normalise(raw: string): string | undefined {
  let address = raw.trim()
  if (address.startsWith('[')) {
    const end = address.indexOf(']')
    if (end === -1) return undefined
    address = address.slice(1, end)
  } else if (/^[0-9.]+:[0-9]+$/.test(address)) {
    address = address.slice(0, address.indexOf(':'))
  }
  const zone = address.indexOf('%')
  if (zone !== -1) address = address.slice(0, zone)
  const mapped = /^::ffff:([0-9.]+)$/i.exec(address)
  if (mapped !== null && isIP(mapped[1] as string) === 4) return mapped[1]
  return isIP(address) === 0 ? undefined : address.toLowerCase()
}

/**
 * The client's address. With `trustedHops` 0 (the default) it is the socket's peer: headers are
 * ignored, since any client can send `X-Forwarded-For`. Behind `n` trusted proxies, each of which
 * appends the address it received the request from, it is the entry `n` places from the right of
 * `X-Forwarded-For` + the peer: entries further left were written by the client and are not
 * believed. A malformed entry at that place falls back to the peer (the proxy).
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = normalise(req.socket.remoteAddress ?? '') ?? 'unknown'
  if (trustedHops === 0) return peer
  const header = req.headers['x-forwarded-for']
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .filter((x) => x.trim())
  const chain = [...forwarded, peer]
  const picked = chain[Math.max(0, chain.length - 1 - trustedHops)] ?? peer
  return normalise(picked) ?? peer
}

/** Expands an IPv6 address into its 8 groups of 16 bits. */
function ipv6Groups(address: string): number[] {
  let text = address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const bytes = (v4[1] as string).split('.').map(Number)
    const [a = 0, b = 0, c = 0, d = 0] = bytes
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0')
  return [...left, ...middle, ...right].map((group) => Number.parseInt(group, 16))
}

/**
 * The key that per-address limits count under: an IPv4 address as is, an IPv6 address by its
 * /64 prefix (one subscriber line usually gets a whole /64, so counting single IPv6 addresses
 * would let one client open 2^64 "different" addresses).
 */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address
  const groups = ipv6Groups(address)
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`
}
