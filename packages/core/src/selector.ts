import {
  DEFAULT_MAX_CHANNEL_LENGTH,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  RESERVED_PREFIX,
} from './defaults.js'
import { SseError } from './errors.js'

/**
 * Selectors name what a connection listens to: a channel (`news`) or a pattern (`tasks/*`).
 * The only wildcard is one trailing `*`, matching any suffix (including an empty one and further
 * `/` segments); a lone `*` matches every channel. Matching is a prefix comparison: linear in the
 * pattern's length, whatever the input (no backtracking, no ReDoS).
 */

// C0 controls, DEL and C1 controls: never valid in a channel name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** Limits applied when validating selectors. */
export interface SelectorLimits {
  /** @defaultValue {@link DEFAULT_MAX_CHANNEL_LENGTH} */
  maxLength?: number
  /** @defaultValue {@link DEFAULT_MAX_CHANNELS_PER_CONNECTION} */
  maxSelectors?: number
}

/** True when `selector` is a pattern (ends with `*`). */
export function isPattern(selector: string): boolean {
  return selector.endsWith('*')
}

/** True when `channel` matches `selector` (an exact channel name or a trailing-`*` pattern). */
export function matches(selector: string, channel: string): boolean {
  if (!isPattern(selector)) return selector === channel
  return channel.startsWith(selector.slice(0, -1))
}

/**
 * Validates a channel name that events are published to.
 * @throws SseError `SSE_ERR_CHANNEL_INVALID` (empty, too long, control character, `*`),
 *   `SSE_ERR_CHANNEL_RESERVED` (the `ssehub.` prefix, unless `allowReserved`).
 */
export function validateChannel(
  channel: unknown,
  maxLength = DEFAULT_MAX_CHANNEL_LENGTH,
  allowReserved = false,
): asserts channel is string {
  if (typeof channel !== 'string' || channel.length === 0) {
    throw new SseError('SSE_ERR_CHANNEL_INVALID', 'channel must be a non-empty string', { field: 'channel' })
  }
  if (channel.length > maxLength) {
    throw new SseError('SSE_ERR_CHANNEL_INVALID', `channel is longer than ${maxLength} characters`, {
      field: 'channel',
    })
  }
  if (CONTROL.test(channel)) {
    throw new SseError('SSE_ERR_CHANNEL_INVALID', 'channel contains a control character', {
      field: 'channel',
    })
  }
  if (channel.includes('*')) {
    throw new SseError('SSE_ERR_CHANNEL_INVALID', 'channel names cannot contain `*`', { field: 'channel' })
  }
  if (!allowReserved && channel.startsWith(RESERVED_PREFIX)) {
    throw new SseError('SSE_ERR_CHANNEL_RESERVED', `the \`${RESERVED_PREFIX}\` channel prefix is reserved`, {
      field: 'channel',
    })
  }
}

/**
 * Validates the selectors of one subscription and returns them without duplicates, in order.
 * Subscribing to reserved channels is allowed (the hub emits into them); publishing is not.
 * @throws SseError `SSE_ERR_SUBSCRIBE_EMPTY`, `SSE_ERR_SUBSCRIBE_TOO_MANY`,
 *   `SSE_ERR_CHANNEL_INVALID`, `SSE_ERR_PATTERN_INVALID`.
 */
export function validateSelectors(selectors: readonly unknown[], limits: SelectorLimits = {}): string[] {
  const maxLength = limits.maxLength ?? DEFAULT_MAX_CHANNEL_LENGTH
  const maxSelectors = limits.maxSelectors ?? DEFAULT_MAX_CHANNELS_PER_CONNECTION
  if (selectors.length === 0) {
    throw new SseError('SSE_ERR_SUBSCRIBE_EMPTY', 'name at least one channel or pattern', {
      field: 'channel',
    })
  }
  if (selectors.length > maxSelectors) {
    throw new SseError('SSE_ERR_SUBSCRIBE_TOO_MANY', `at most ${maxSelectors} channels and patterns`, {
      field: 'channel',
    })
  }
  const unique = new Set<string>()
  for (const selector of selectors) {
    if (typeof selector === 'string' && isPattern(selector)) {
      const prefix = selector.slice(0, -1)
      if (selector.length > maxLength || prefix.includes('*') || CONTROL.test(prefix)) {
        throw new SseError('SSE_ERR_PATTERN_INVALID', `invalid pattern ${JSON.stringify(selector)}`, {
          field: 'channel',
        })
      }
    } else {
      validateChannel(selector, maxLength, true)
    }
    unique.add(selector)
  }
  return [...unique]
}
