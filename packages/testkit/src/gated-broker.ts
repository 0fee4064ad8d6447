import { type Broker, MemoryBroker } from '@ssehub/core'

/** A {@link MemoryBroker} whose replays wait until `release()`: live events arrive meanwhile. */
export interface GatedReplayBroker {
  readonly broker: Broker
  readonly memory: MemoryBroker
  /** Lets every replay asked so far (and later) go on. */
  release(): void
}

export function gatedReplayBroker(memory = new MemoryBroker()): GatedReplayBroker {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const broker: Broker = {
    carriesPrivate: memory.carriesPrivate,
    publish: (channel, message) => memory.publish(channel, message),
    subscribe: (selectors, listener) => memory.subscribe(selectors, listener),
    replay: async (afterId, selectors, limit) => {
      await gate
      return memory.replay(afterId, selectors, limit)
    },
    state: () => memory.state(),
    close: () => memory.close(),
  }
  return { broker, memory, release: () => release() }
}
