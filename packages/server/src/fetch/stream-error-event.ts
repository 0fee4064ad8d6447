import { ERROR_EVENT } from '@ssehub/core'

/**
 * The event type of the last event of a stream whose iterator failed; its data is `{"message": ...}`.
 * @example
 * // in the browser
 * source.addEventListener('ssehub.error', (e) => console.warn(JSON.parse(e.data).message))
 */
export const STREAM_ERROR_EVENT = ERROR_EVENT
