import type { Hub, Session } from '@ssehub/core'
import type { FastifyInstance, FastifyPluginCallback, FastifyReply } from 'fastify'
import type { StreamEventsOptions, StreamSource } from '../fetch/event-pump.js'
import { type ServeSseOptions, serveSse, streamEvents } from './fastify-sse.js'

/**
 * Options of {@link ssehubPlugin}.
 * @example
 * app.register(ssehubPlugin, { hub } satisfies SsehubPluginOptions)
 */
export interface SsehubPluginOptions {
  /**
   * The hub `reply.sseSubscribe()` subscribes through. Without it, only `reply.sseStream()` works.
   * @defaultValue none
   */
  hub?: Hub
}

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Streams hub channels (of the plugin's hub) on this reply, which is hijacked. Throws an
     * `SseError` before anything is sent, so Fastify's error handler answers it.
     * @example
     * app.get('/news', (request, reply) => { reply.sseSubscribe({ channels: ['news'] }) })
     */
    sseSubscribe(options: ServeSseOptions): Session
    /**
     * Streams an async iterable as server-sent events on this reply, which is hijacked.
     * @example
     * app.get('/ticks', (request, reply) => reply.sseStream(async function* () { yield { n: 1 } }))
     */
    sseStream(source: StreamSource, options?: StreamEventsOptions): Promise<void>
  }
}

/**
 * The Fastify 5 plugin: decorates replies with `reply.sseSubscribe()` (hub channels) and
 * `reply.sseStream()` (an async iterable).
 *
 * Encapsulation is respected: like a plugin wrapped with `fastify-plugin`, the decorators land in
 * the context that registers the plugin (and its children), not in its siblings or parent; the
 * routes that use them run every hook of their context (authentication in `onRequest`, headers set
 * with `reply.header()` are sent with the stream). Replies are hijacked (`reply.hijack()`): Fastify
 * sends nothing of its own, and `onSend` hooks do not see the stream.
 *
 * When the Fastify instance closes, the streams opened through the plugin are ended first
 * (`preClose`), so `app.close()` does not wait for clients that never hang up; the hub itself is
 * yours to close.
 *
 * @example
 * import Fastify from 'fastify'
 * import { createHub } from '@ssehub/core'
 * import { ssehubPlugin } from '@ssehub/server/fastify'
 *
 * const hub = createHub()
 * const app = Fastify()
 * await app.register(ssehubPlugin, { hub })
 * app.get('/news', (request, reply) => {
 *   reply.sseSubscribe({ channels: ['news'] })
 * })
 * app.get('/countdown', (request, reply) =>
 *   reply.sseStream(async function* () {
 *     for (let n = 3; n > 0; n--) yield { n }
 *   }),
 * )
 */
export const ssehubPlugin: FastifyPluginCallback<SsehubPluginOptions> = (
  instance: FastifyInstance,
  options: SsehubPluginOptions,
  done: (error?: Error) => void,
) => {
  const hub = options.hub
  /** Streams opened through this plugin instance, ended on `preClose`. */
  const open = new Set<() => void>()

  instance.decorateReply('sseSubscribe', function sseSubscribe(this: FastifyReply, serve: ServeSseOptions) {
    if (hub === undefined) {
      throw new TypeError(
        'reply.sseSubscribe() needs the plugin registered with a hub: register(ssehubPlugin, { hub })',
      )
    }
    const onClose = serve.onClose
    let session: Session | undefined
    const end = (): void => session?.close()
    session = serveSse(hub, this.request, this, {
      ...serve,
      onClose: (reason) => {
        open.delete(end)
        onClose?.(reason)
      },
    })
    if (session.closeReason === undefined) open.add(end)
    return session
  })

  instance.decorateReply(
    'sseStream',
    function sseStream(this: FastifyReply, source: StreamSource, streamOptions: StreamEventsOptions = {}) {
      const raw = this.raw
      const end = (): void => {
        raw.end()
      }
      const done = streamEvents(this.request, this, source, streamOptions)
      open.add(end)
      return done.finally(() => open.delete(end))
    },
  )

  instance.addHook('preClose', (hookDone) => {
    for (const end of [...open]) end()
    open.clear()
    hookDone()
  })
  done()
}

// What `fastify-plugin` does, without the dependency: the decorators belong to the registering
// context rather than to a new child context, and Fastify checks the version it was written for.
const meta = ssehubPlugin as unknown as Record<symbol, unknown>
meta[Symbol.for('skip-override')] = true
meta[Symbol.for('fastify.display-name')] = 'ssehub'
meta[Symbol.for('plugin-meta')] = { name: 'ssehub', fastify: '5.x' }
