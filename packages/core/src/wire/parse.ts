/**
 * The client side of the wire: a streaming `text/event-stream` parser that follows the WHATWG
 * HTML standard, section 9.2.6 "Event stream interpretation", step by step (WIRE.md, "Parsing").
 */
import { DEFAULT_MAX_BUFFER_SIZE } from '../defaults.js'
import { SseError } from '../errors.js'

/**
 * One event fired by the parser: what a browser's `MessageEvent` would carry, plus `id`.
 *
 * @example
 * // 'id: 7\nevent: price\ndata: YHOO\ndata: +2\n\n' gives
 * // { type: 'price', data: 'YHOO\n+2', lastEventId: '7', id: '7' }
 */
export interface ParsedEvent {
  /** The event type: the last `event` field of the block, or `message` when it was absent or empty. */
  type: string
  /** The data: the block's `data` values joined with LF (the spec's trailing LF removed). */
  data: string
  /**
   * The last event id after this block (the `lastEventId` of a browser's `MessageEvent`). It is
   * sticky: a block without an `id` field keeps the previous value.
   */
  lastEventId: string
  /** The value of the last valid `id` field inside this block, or `undefined` if it had none. */
  id: string | undefined
}

/**
 * Callbacks and options for {@link createParser}. Only `onEvent` is required; callbacks run
 * synchronously inside {@link SseParser.feed}, in stream order.
 *
 * @example
 * const callbacks: ParserCallbacks = {
 *   onEvent: (event) => console.log(event.type, event.data),
 *   onRetry: (ms) => { reconnectDelayMs = ms },
 *   onError: (error) => console.warn(error.code), // SSE_ERR_PARSER_BUFFER_OVERFLOW
 *   maxBufferSize: 256 * 1024,
 * }
 */
export interface ParserCallbacks {
  /** Called for every event the stream dispatches. */
  onEvent: (event: ParsedEvent) => void
  /** Called when a valid `retry` field sets the reconnection time, in milliseconds. */
  onRetry?: (ms: number) => void
  /**
   * Called for every comment line with the text after the `:`, minus one leading space (like a
   * field value), so `: ping` gives `'ping'` and `:` gives `''`. When absent, comment lines are
   * skipped without being buffered, whatever their length.
   */
  onComment?: (comment: string) => void
  /**
   * Called with an `SSE_ERR_PARSER_BUFFER_OVERFLOW` {@link SseError} when a line or an event grows
   * past `maxBufferSize`. Without it such lines and events are dropped silently. `feed` never
   * throws for a problem in the stream.
   */
  onError?: (error: SseError) => void
  /**
   * The longest line, and the longest data of one event (its `data` values joined with LF), the
   * parser buffers, in UTF-16 code units. Anything longer is dropped and reported to `onError`.
   * @defaultValue {@link DEFAULT_MAX_BUFFER_SIZE} (1 Mi code units)
   */
  maxBufferSize?: number
}

/**
 * Options for {@link SseParser.reset}.
 *
 * @example
 * parser.reset({ consume: true }) // a trailing ': bye' without a line end still reaches onComment
 */
export interface ParserResetOptions {
  /**
   * Before resetting, parse the unterminated last line as if a line end followed it, so a final
   * comment or `retry` without a line end still reaches `onComment` / `onRetry`. An unfinished
   * event is never dispatched, with or without `consume`.
   * @defaultValue false
   */
  consume?: boolean
}

/**
 * A streaming event-stream parser, made by {@link createParser}. Feed it the body of one
 * connection chunk by chunk, then `reset()` it before feeding the next connection's body.
 *
 * @example
 * for await (const chunk of response.body) parser.feed(chunk)
 * parser.reset()
 * headers['last-event-id'] = parser.lastEventId
 */
export interface SseParser {
  /**
   * Parses the next chunk of the stream. Strings are taken as already decoded; bytes are decoded
   * as streaming UTF-8, so a character may be split across chunks. Callbacks run synchronously.
   */
  feed(chunk: string | Uint8Array): void
  /** Ends the current stream (connection) and gets ready for a new one; see {@link createParser}. */
  reset(options?: ParserResetOptions): void
  /** The last event id: the value of the `id` buffer at the last dispatch, `''` at first. */
  readonly lastEventId: string
}

const LF = 0x0a
const SPACE = 0x20
const COLON = 0x3a
const BOM = 0xfeff

/** `retry` values: one or more ASCII digits, nothing else (no sign, no dot, no space). */
const DIGITS = /^[0-9]+$/

/**
 * Creates a streaming parser for `text/event-stream` that behaves exactly like a conforming
 * browser (the WHATWG HTML standard, "Event stream interpretation").
 *
 * - Decoding: bytes are decoded as UTF-8 with a streaming `TextDecoder`; invalid sequences become
 *   U+FFFD. Exactly one U+FEFF (BOM) at the very start of the stream is removed, for string and
 *   byte input alike; a second one becomes part of the first field name, so that line is ignored.
 *   Feed one kind of input per stream: a string fed after bytes first flushes the decoder (an
 *   incomplete byte sequence then becomes U+FFFD).
 * - Lines end with CRLF, LF or CR, mixed freely; a CR ending one chunk and an LF starting the next
 *   are one line end. A line ending in CR is processed at once (no waiting for a possible LF).
 * - Fields: name before the first colon, value after it minus one leading space; no colon means an
 *   empty value; names are case-sensitive; unknown names are ignored. `id` with a NUL is ignored.
 *   `retry` must be ASCII digits only (leading zeros allowed); values above
 *   `Number.MAX_SAFE_INTEGER` are ignored, like every other invalid value (the old time is kept).
 * - Dispatch (blank line): the last event id becomes the id buffer, even if nothing fires; an
 *   empty data buffer fires nothing; otherwise `onEvent` gets the data without its trailing LF and
 *   the type, or `message`. Data and type are then cleared; the id buffer is not.
 * - `lastEventId` survives {@link SseParser.reset}, as a browser keeps it across reconnects; create
 *   a new parser to forget it. `reset()` discards the partial line and the unfinished event,
 *   including an `id` it had set (the spec's end of stream), resets the decoder and BOM handling,
 *   and may be called from inside a callback (the rest of the chunk being fed is then dropped).
 * - Bounds: a line longer than `maxBufferSize`, or an event whose data grows past it, is dropped
 *   and reported once to `onError` as `SSE_ERR_PARSER_BUFFER_OVERFLOW`; parsing resumes at the
 *   next line end. A dropped non-comment line also drops the event it belonged to (it might have
 *   carried its data), so a truncated event is never fired; an `id` in a dropped event still
 *   counts, so a reconnect does not ask for the event that could not be received. Nothing is
 *   buffered past the bound. The results never depend on how the stream is split into chunks.
 *
 * Callbacks must not call `feed` on the same parser. A callback that throws propagates out of
 * `feed`, and the rest of that chunk is lost.
 *
 * @param callbacks - `onEvent`, optional `onRetry`, `onComment`, `onError`, and `maxBufferSize`.
 * @returns The parser: `feed`, `reset`, `lastEventId`.
 * @throws {SseError} `SSE_ERR_OPTION_INVALID` when `onEvent` is not a function or `maxBufferSize`
 *   is not a positive safe integer. Never from `feed` for a problem in the stream.
 * @example
 * const parser = createParser({ onEvent: (e) => console.log(e.type, e.data, e.lastEventId) })
 * parser.feed('event: price\nid: 7\ndata: YHOO\ndata: +2\n\n') // logs: price YHOO\n+2 7
 */
export function createParser(callbacks: ParserCallbacks): SseParser {
  const { onEvent, onRetry, onComment, onError } = callbacks
  if (typeof onEvent !== 'function') {
    throw new SseError('SSE_ERR_OPTION_INVALID', '`onEvent` must be a function.', { field: 'onEvent' })
  }
  const maxBufferSize = callbacks.maxBufferSize ?? DEFAULT_MAX_BUFFER_SIZE
  if (!Number.isSafeInteger(maxBufferSize) || maxBufferSize < 1) {
    throw new SseError('SSE_ERR_OPTION_INVALID', '`maxBufferSize` must be a positive safe integer.', {
      field: 'maxBufferSize',
    })
  }

  // ignoreBOM keeps a leading U+FEFF in the output, so that string and byte input share one rule.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  // True once bytes went through the decoder: it may hold an incomplete sequence.
  let decoding = false

  // Stream state.
  let atStreamStart = true
  let skipLeadingLf = false // the previous text ended in CR: an LF starting the next is its pair
  let pending = '' // the unterminated last line
  let pendingIsComment = false // it starts with a colon
  let skippingLine = false // the current line overflowed: discard up to the next line end
  let generation = 0 // bumped by reset(), so a loop interrupted by a callback's reset() stops

  // Event state: the spec's data buffer (as joined lines), event type buffer and id buffer.
  let data = ''
  let hasData = false
  let type = ''
  let idBuffer = ''
  let blockId: string | undefined
  let droppingEvent = false // the event overflowed: ignore its data and type, fire nothing
  let lastEventId = ''

  function overflow(what: string): void {
    onError?.(
      new SseError(
        'SSE_ERR_PARSER_BUFFER_OVERFLOW',
        `${what} is longer than maxBufferSize (${maxBufferSize}): dropped.`,
      ),
    )
  }

  function dropEvent(): void {
    droppingEvent = true
    data = ''
    hasData = false
    type = ''
  }

  function lineOverflow(isComment: boolean): void {
    // An ignored comment needs no buffering, so its length is nobody's problem.
    if (isComment && onComment === undefined) return
    if (!isComment) dropEvent()
    overflow(isComment ? 'A comment line' : 'A line')
  }

  function dispatch(): void {
    lastEventId = idBuffer
    const id = blockId
    blockId = undefined
    if (droppingEvent || !hasData) {
      droppingEvent = false
      data = ''
      hasData = false
      type = ''
      return
    }
    const event: ParsedEvent = { type: type === '' ? 'message' : type, data, lastEventId, id }
    data = ''
    hasData = false
    type = ''
    onEvent(event)
  }

  function processField(name: string, value: string): void {
    switch (name) {
      case 'data': {
        if (droppingEvent) return
        const size = hasData ? data.length + 1 + value.length : value.length
        if (size > maxBufferSize) {
          dropEvent()
          overflow("An event's data")
          return
        }
        data = hasData ? `${data}\n${value}` : value
        hasData = true
        return
      }
      case 'event':
        if (!droppingEvent) type = value
        return
      case 'id':
        if (value.indexOf('\0') === -1) {
          idBuffer = value
          blockId = value
        }
        return
      case 'retry':
        if (DIGITS.test(value)) {
          const ms = Number(value)
          if (Number.isSafeInteger(ms)) onRetry?.(ms)
        }
        return
      default:
      // Unknown field: ignored.
    }
  }

  /** Processes the line `s[start, end)`, its line end excluded. */
  function processLine(s: string, start: number, end: number): void {
    if (start === end) {
      dispatch()
      return
    }
    const first = s.charCodeAt(start)
    if (end - start > maxBufferSize) {
      lineOverflow(first === COLON)
      return
    }
    if (first === COLON) {
      if (onComment !== undefined) {
        const from = start + 1 < end && s.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1
        onComment(s.slice(from, end))
      }
      return
    }
    // Field names are short: a bounded scan beats indexOf(':'), which could run past `end`
    // over the rest of the chunk for every colon-less line (quadratic on adversarial input).
    let colon = start
    while (colon < end && s.charCodeAt(colon) !== COLON) colon++
    if (colon === end) {
      processField(s.slice(start, end), '')
      return
    }
    const from = colon + 1 < end && s.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1
    processField(s.slice(start, colon), s.slice(from, end))
  }

  function parse(text: string): void {
    const length = text.length
    let pos = 0
    if (atStreamStart) {
      atStreamStart = false
      if (text.charCodeAt(0) === BOM) pos = 1
    }
    if (skipLeadingLf) {
      skipLeadingLf = false
      if (text.charCodeAt(pos) === LF) pos++
    }
    // Both positions are cached and only searched again once passed: calling indexOf for
    // both characters on every line would rescan an LF-only chunk to its end for each line.
    let cr = text.indexOf('\r', pos)
    let lf = text.indexOf('\n', pos)
    const current = generation
    for (;;) {
      let end: number
      if (cr === -1) {
        if (lf === -1) break
        end = lf
      } else end = lf === -1 || cr < lf ? cr : lf
      if (skippingLine) {
        skippingLine = false
      } else if (pending === '') {
        processLine(text, pos, end)
      } else {
        const line = pending + text.slice(pos, end)
        pending = ''
        processLine(line, 0, line.length)
      }
      if (current !== generation) return
      pos = end + 1
      if (end === cr) {
        if (pos === length) skipLeadingLf = true
        else if (text.charCodeAt(pos) === LF) pos++
        cr = text.indexOf('\r', pos)
      }
      if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos)
    }
    if (pos === length || skippingLine) return
    const rest = pos === 0 ? text : text.slice(pos)
    if (pending === '') pendingIsComment = rest.charCodeAt(0) === COLON
    if (pendingIsComment && onComment === undefined) {
      pending = ':' // an ignored comment: remember only that the line is one
      return
    }
    // String concatenation builds a rope in V8: appending is O(1) and the line is flattened once,
    // when it ends. Reading a character of `pending` here would flatten it on every chunk, which
    // made a 1 MiB line fed one character at a time take 500 s instead of 0.1 s (Node 20).
    pending += rest
    if (pending.length > maxBufferSize) {
      pending = ''
      skippingLine = true
      lineOverflow(pendingIsComment)
    }
  }

  function flushDecoder(): string {
    decoding = false
    return decoder.decode()
  }

  function feed(chunk: string | Uint8Array): void {
    let text: string
    if (typeof chunk === 'string') {
      text = decoding ? flushDecoder() + chunk : chunk
    } else {
      text = decoder.decode(chunk, { stream: true })
      decoding = true
    }
    // An empty text (say, the first byte of a split character) must not use up the BOM check.
    if (text.length > 0) parse(text)
  }

  function reset(options: ParserResetOptions = {}): void {
    const tail = decoding ? flushDecoder() : ''
    if (options.consume === true && !skippingLine) {
      // The flushed tail holds at most one U+FFFD, never a line end.
      const line = pending + tail
      pending = ''
      if (line !== '') processLine(line, 0, line.length)
    }
    generation++
    atStreamStart = true
    skipLeadingLf = false
    pending = ''
    skippingLine = false
    data = ''
    hasData = false
    type = ''
    blockId = undefined
    droppingEvent = false
    // The spec's end of stream: an id set by the unfinished event is discarded with it.
    idBuffer = lastEventId
  }

  return {
    feed,
    reset,
    get lastEventId() {
      return lastEventId
    },
  }
}
