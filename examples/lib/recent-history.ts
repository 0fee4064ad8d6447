import { formatHubId, parseHubId } from '@ssehub/core'

/**
 * Remembers the ids of the last `size` events of a channel, to start a first connection (one
 * without `Last-Event-ID`) just before them: the hub then replays exactly those events from its
 * history, then goes on live, without a gap or a duplicate. A reconnect resumes from its own
 * `Last-Event-ID` as usual.
 * @example
 * const recent = new RecentHistory(50)
 * recent.add(await hub.publish('chat', message))
 * serveSse(hub, req, res, { channels: ['chat'], lastEventId: lastEventIdOf(req) ?? recent.cursor() })
 */
export class RecentHistory {
  readonly #size: number
  readonly #ids: string[] = []

  constructor(size: number) {
    this.#size = size
  }

  /** Records the id `hub.publish` resolved with. */
  add(id: string): void {
    this.#ids.push(id)
    if (this.#ids.length > this.#size) this.#ids.shift()
  }

  /** The position just before the oldest remembered event, or undefined when there is none. */
  cursor(): string | undefined {
    const oldest = this.#ids[0]
    const parsed = oldest === undefined ? undefined : parseHubId(oldest)
    return parsed === undefined ? undefined : formatHubId(parsed.epoch, parsed.seq - 1)
  }
}
