/**
 * Validity rules for one benchmark run: a run whose instrument was the bottleneck, or whose
 * deliveries were not complete and in order, measures nothing about the server and is rejected
 * (retried once, then recorded as invalid with these reasons; never dropped silently).
 */

/** The fields of the load generator's subscriber report that the rules look at. */
export interface SubOutcome {
  conns: number
  connected: number
  failed: number
  closed_unexpected: number
  events: number
  gaps: number
  dups: number
  completed: number
  complete_s: number | null
  saturated: boolean
  /** Malformed HTTP or SSE seen by the load generator. */
  protocol_errors?: number
}

/** The fields of the publisher's report that the rules look at. */
export interface PubOutcome {
  sent: number
  ok: number
  errors: number
  status: Record<string, number>
  wall_s: number
  cpu_user_s: number
  cpu_sys_s: number
  /** The publisher's own saturation verdict (its CPU above 90% of the wall time). */
  saturated?: boolean
  /** Open loop: scheduled requests with no connection to go on (counted in errors too). */
  dropped?: number
  /** Requests on a connection the server closed before answering (counted in errors too). */
  lost?: number
  /** Requests still unanswered at the end (counted in errors too). */
  unanswered?: number
}

/** What a scenario tolerates. */
export interface ValidityRules {
  /** Gaps and duplicates are what the scenario measures (stalled readers, soak). @defaultValue false */
  allowLoss?: boolean
  /** Server-side closes are expected (slow consumers dropped). @defaultValue false */
  allowClosed?: boolean
  /** The subscribers run until a duration rather than an event count. @defaultValue false */
  durationBound?: boolean
  /** Publishes the run asked for; fewer sent means a bound cut the publisher short. */
  expectedPublishes?: number
  /** Connections that never read (stalled): they are not expected to complete. @defaultValue 0 */
  stalled?: number
}

/** The load generator counts as saturated above this share of its CPU budget (contract). */
export const SATURATION_SHARE = 0.9

/** Reasons a run is invalid; empty when valid. */
export function invalidReasons(
  sub: SubOutcome | undefined,
  pub: PubOutcome | undefined,
  rules: ValidityRules = {},
): string[] {
  const reasons: string[] = []
  if (sub !== undefined) {
    if (sub.saturated) reasons.push('load generator saturated')
    if (sub.failed > 0) reasons.push(`${sub.failed} connections failed`)
    if (sub.connected < sub.conns) reasons.push(`only ${sub.connected} of ${sub.conns} connected`)
    if (!rules.allowLoss && sub.gaps > 0) reasons.push(`${sub.gaps} gaps`)
    if (!rules.allowLoss && sub.dups > 0) reasons.push(`${sub.dups} duplicates`)
    if (!rules.allowClosed && sub.closed_unexpected > 0) {
      reasons.push(`${sub.closed_unexpected} connections closed by the server`)
    }
    if ((sub.protocol_errors ?? 0) > 0) reasons.push(`${sub.protocol_errors} protocol errors`)
    if (sub.events === 0 && (rules.expectedPublishes ?? 1) > 0) reasons.push('no events delivered')
    const readers = sub.conns - (rules.stalled ?? 0)
    if (!rules.durationBound && sub.completed < readers) {
      reasons.push(`only ${sub.completed} of ${readers} connections received every event`)
    }
  }
  if (pub !== undefined) {
    if (pub.errors > 0) {
      const statuses = Object.entries(pub.status)
        .filter(([code]) => !code.startsWith('2'))
        .map(([code, n]) => `${code}×${n}`)
        .join(', ')
      const kinds = [
        statuses,
        pub.dropped ? `dropped ${pub.dropped}` : '',
        pub.lost ? `lost ${pub.lost}` : '',
        pub.unanswered ? `unanswered ${pub.unanswered}` : '',
      ]
        .filter((kind) => kind !== '')
        .join(', ')
      reasons.push(`publisher had ${pub.errors} errors${kinds ? ` (${kinds})` : ''}`)
    }
    if (rules.expectedPublishes !== undefined && pub.ok < rules.expectedPublishes) {
      reasons.push(`publisher completed ${pub.ok} of ${rules.expectedPublishes} publishes`)
    }
    const busy = pub.wall_s > 0.5 && (pub.cpu_user_s + pub.cpu_sys_s) / pub.wall_s > SATURATION_SHARE
    if (pub.saturated === true || (pub.saturated === undefined && busy)) {
      reasons.push('publisher saturated')
    }
  }
  return reasons
}
