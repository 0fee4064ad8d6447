/**
 * Metrics of `ssehub serve --workers N`: a scrape reaches whichever worker the primary hands the
 * connection to, so each worker answers with the whole cluster's metrics. It asks the primary,
 * which collects every worker's registries through prom-client's `AggregatorRegistry` (counters,
 * gauges and histograms summed; per-channel subscriber series summed by channel) and answers.
 */
import cluster from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import { type HubMetrics, processMetrics } from '../observability/metrics.js'

const TAG = 'ssehub.metrics'
/** prom-client gives up on a worker after 5 s; answer a little after that. */
const TIMEOUT_MS = 6_000

interface MetricsMessage {
  t: typeof TAG
  rid: number
  text?: string
  error?: string
}

function isMetricsMessage(message: unknown): message is MetricsMessage {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === TAG
}

/**
 * In the primary: answers workers' requests for the cluster's metrics. Returns the function that
 * stops answering.
 */
export function serveClusterMetrics(): () => void {
  const aggregator = new AggregatorRegistry()
  const onMessage = (worker: import('node:cluster').Worker, message: unknown): void => {
    if (!isMetricsMessage(message)) return
    aggregator.clusterMetrics().then(
      (text) => {
        if (worker.isConnected()) worker.send({ t: TAG, rid: message.rid, text })
      },
      (error: unknown) => {
        if (worker.isConnected()) worker.send({ t: TAG, rid: message.rid, error: String(error) })
      },
    )
  }
  cluster.on('message', onMessage)
  return () => cluster.off('message', onMessage)
}

/**
 * In a worker: the `collect` of the metrics option. Registers this worker's registries with
 * prom-client's cluster protocol, and answers a scrape with the primary's sum of every worker.
 * If the primary does not answer, the scrape gets this worker's own metrics, marked as such.
 */
export function clusterMetricsCollector(metrics: HubMetrics): () => Promise<string> {
  AggregatorRegistry.setRegistries([metrics.registry, processMetrics()])
  // Constructing one installs prom-client's worker-side listener (answering the primary).
  new AggregatorRegistry()
  let next = 1
  const pending = new Map<number, (text: string | undefined) => void>()
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message)) return
    pending.get(message.rid)?.(message.text)
  })
  return async () => {
    const rid = next++
    const text = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => settle(undefined), TIMEOUT_MS)
      const settle = (value: string | undefined): void => {
        clearTimeout(timer)
        pending.delete(rid)
        resolve(value)
      }
      pending.set(rid, settle)
      if (process.connected) process.send?.({ t: TAG, rid })
      else settle(undefined)
    })
    if (text !== undefined) return text
    const local = await metrics.exposition()
    return `# ssehub: the primary did not answer; this worker's metrics only\n${local}`
  }
}
