/**
 * Hub ids: `<epoch>.<seq in base 36>`, e.g. `k9x2fq.1z`. Short, URL-safe, free of every
 * character that forces a CORS preflight, and ordered within an epoch by their seq.
 */

const EPOCH_LENGTH = 6
const HUB_ID_FORM = /^[0-9a-z]{6}\.[0-9a-z]{1,11}$/

/** A fresh random epoch: 6 base-36 characters. */
export function newEpoch(): string {
  let out = ''
  const bytes = new Uint8Array(EPOCH_LENGTH)
  crypto.getRandomValues(bytes)
  for (const byte of bytes) out += (byte % 36).toString(36)
  return out
}

/** Formats the hub id of position `seq` in `epoch`. */
export function formatHubId(epoch: string, seq: number): string {
  return `${epoch}.${seq.toString(36)}`
}

/** Parses a hub id; undefined when `id` does not have the hub-id form. */
export function parseHubId(id: string): { epoch: string; seq: number } | undefined {
  if (!HUB_ID_FORM.test(id)) return undefined
  const seq = Number.parseInt(id.slice(EPOCH_LENGTH + 1), 36)
  if (!Number.isSafeInteger(seq)) return undefined
  return { epoch: id.slice(0, EPOCH_LENGTH), seq }
}

/** True when `id` has the form of a hub id (publishers may not use that form). */
export function isHubIdForm(id: string): boolean {
  return HUB_ID_FORM.test(id)
}
