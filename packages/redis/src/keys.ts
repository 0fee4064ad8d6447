import { SseError } from '@ssehub/core'

/** The Redis keys of one key prefix. All share one hash tag, so one Lua script may touch them all. */
export interface Keys {
  /** The common start of every key: the prefix plus the hash tag, e.g. `ssehub:{ssehub}:`. */
  readonly base: string
  /** Hash: `e` epoch, `s` last seq, `m` last event time, `fu`/`fr` the loss floor of forgotten channels. */
  readonly meta: string
  /** Stream: the live feed, every event of the log in order, read by every node. */
  readonly log: string
  /** Sorted set: channel name -> seq of its last event. */
  readonly chans: string
  /** Hash: channel name -> `lastSeq lastMs lossUpTo lossReason`. */
  readonly chmeta: string
  /** Stream: one channel's history. */
  channel(name: string): string
  /** String: where a publisher-supplied id points to, while its event is in history. */
  id(publisherId: string): string
}

// Braces are allowed only as one non-empty hash tag, so that the tag never reaches into a channel name.
const PREFIX_FORM = /^[^{}]*(\{[^{}]+\}[^{}]*)?$/

/**
 * Derives the keys of a prefix. A prefix with a `{tag}` is used as it is; otherwise one is added
 * (`ssehub:` becomes `ssehub:{ssehub}:`) so that every key of the prefix lives in one cluster slot.
 * @throws SseError `SSE_ERR_OPTION_INVALID` for an empty prefix or misplaced braces.
 */
export function keysFor(prefix: string): Keys {
  if (typeof prefix !== 'string' || prefix.length === 0 || !PREFIX_FORM.test(prefix)) {
    throw new SseError(
      'SSE_ERR_OPTION_INVALID',
      'keyPrefix must be a non-empty string; braces only as one non-empty hash tag like `app:{sse}:`',
    )
  }
  const tag = prefix.replace(/:+$/, '') || prefix
  const base = prefix.includes('{') ? prefix : `${prefix}{${tag}}:`
  return {
    base,
    meta: `${base}meta`,
    log: `${base}log`,
    chans: `${base}chans`,
    chmeta: `${base}chmeta`,
    channel: (name) => `${base}c:${name}`,
    id: (publisherId) => `${base}i:${publisherId}`,
  }
}
