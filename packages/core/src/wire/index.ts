export { isSseError, SseError, type SseErrorCode } from '../errors.js'
export { encodeComment, encodeControl, encodeEvent, type SseControl, type SseMessage } from './encode.js'
export {
  isEventStreamContentType,
  SSE_CONTENT_TYPE,
  type SseHeadersOptions,
  sseHeaders,
} from './headers.js'
export {
  createParser,
  type ParsedEvent,
  type ParserCallbacks,
  type ParserResetOptions,
  type SseParser,
} from './parse.js'
