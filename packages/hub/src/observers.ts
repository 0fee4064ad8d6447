import type { HubObserver } from '@ssehub/core'

const HOOKS = ['connected', 'closed', 'published', 'delivered', 'replayed', 'reset'] as const

/**
 * One observer that calls each of `observers` in turn, hook by hook. A hook is set only when at
 * least one observer has it, so the hub skips unobserved hooks entirely on its hot path.
 */
export function combineObservers(...observers: ReadonlyArray<HubObserver | undefined>): HubObserver {
  const present = observers.filter((observer): observer is HubObserver => observer !== undefined)
  const combined: Record<string, (...args: never[]) => void> = {}
  for (const hook of HOOKS) {
    const calls = present.flatMap((observer) => {
      const fn = observer[hook] as ((...args: never[]) => void) | undefined
      return fn === undefined ? [] : [fn.bind(observer)]
    })
    if (calls.length === 1) combined[hook] = calls[0] as (...args: never[]) => void
    else if (calls.length > 1) {
      combined[hook] = (...args: never[]) => {
        for (const call of calls) call(...args)
      }
    }
  }
  return combined as HubObserver
}
