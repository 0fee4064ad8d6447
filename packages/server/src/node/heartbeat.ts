/**
 * The node adapter's streams share the runtime-neutral heartbeat timers of the other adapters:
 * one timer per period for the whole process, whichever adapters serve the streams.
 * @internal
 */
export { addHeartbeat, type Beating, heartbeatTimerCount, removeHeartbeat } from '../fetch/heartbeat.js'
