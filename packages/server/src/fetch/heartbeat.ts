/**
 * Shared heartbeat timers for the per-request streams of every adapter (node, Fetch, HTTP/2,
 * Express): one interval per distinct period (in practice one), started with the first stream and
 * cleared with the last, never one timer per connection. Runtime-neutral: `unref` is called only
 * where timers have it (Node, Bun), not on Deno or workers.
 * @internal
 */

/** Something that sends a heartbeat when the shared timer ticks. */
export interface Beating {
  beat(): void
}

interface Group {
  readonly members: Set<Beating>
  readonly timer: ReturnType<typeof setInterval>
}

const groups = new Map<number, Group>()

/** Starts calling `member.beat()` every `ms`. */
export function addHeartbeat(ms: number, member: Beating): void {
  let group = groups.get(ms)
  if (group === undefined) {
    const members = new Set<Beating>()
    const timer = setInterval(() => {
      for (const beating of members) beating.beat()
    }, ms)
    // Heartbeats alone never keep a process alive (where the runtime has the notion).
    ;(timer as { unref?: () => void }).unref?.()
    group = { members, timer }
    groups.set(ms, group)
  }
  group.members.add(member)
}

/** Stops the heartbeats of `member`; clears the timer when it was the last one. */
export function removeHeartbeat(ms: number, member: Beating): void {
  const group = groups.get(ms)
  if (group === undefined || !group.members.delete(member) || group.members.size > 0) return
  clearInterval(group.timer)
  groups.delete(ms)
}

/** How many heartbeat timers run (for tests: never more than one per distinct period). */
export function heartbeatTimerCount(): number {
  return groups.size
}
