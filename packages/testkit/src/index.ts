export { type AdapterConformanceOptions, runAdapterConformance } from './adapter-conformance.js'
export { type BrokerConformanceOptions, runBrokerConformance } from './broker-conformance.js'
export { browserRequired, browserSkipReason, CHROMIUM_ARGS, chromiumPath, launchChromium } from './browser.js'
export { sleep, waitFor, withTimeout } from './deadline.js'
export { type GatedReplayBroker, gatedReplayBroker } from './gated-broker.js'
export { MemorySink } from './memory-sink.js'
export { freePort } from './ports.js'
export { type ExitBackstop, killOnExit, which } from './processes.js'
export {
  deleteKeys,
  REDIS_CLI,
  REDIS_SERVER,
  REDIS_URL,
  RedisClusterFixture,
  RedisServer,
  type RedisServerOptions,
  redisCommand,
  redisSkip,
  TcpProxy,
} from './redis-server.js'
export { openSse, type SseStream } from './sse-reader.js'
export { writeSelfSignedCertificate } from './tls.js'
