import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  encodeComment,
  encodeControl,
  encodeEvent,
  isEventStreamContentType,
  isSseError,
  SSE_CONTENT_TYPE,
  type SseErrorCode,
  type SseMessage,
  sseHeaders,
} from '../src/wire/index.js'
import { type Entry, ev, feedings, record } from './fixtures/wire-harness.js'

/** Parses `stream` in every way the harness cuts it and asserts that all agree; returns the log. */
function parseEveryWay(stream: string): Entry[] {
  const first = record([stream]).log
  for (const feeding of feedings(stream))
    assert.deepStrictEqual(record(feeding.chunks).log, first, feeding.label)
  return first
}

function assertSseError(fn: () => unknown, code: SseErrorCode, field?: string): void {
  assert.throws(fn, (error) => {
    assert.ok(isSseError(error, code), `expected ${code}, got ${String(error)}`)
    assert.equal(error.field, field)
    return true
  })
}

describe('encodeEvent: exact bytes', () => {
  test('writes a data-only event as one data line and a blank line', () => {
    assert.equal(encodeEvent({ data: 'hello' }), 'data: hello\n\n')
  })

  test('writes event, id and retry before the data, in that order', () => {
    assert.equal(
      encodeEvent({ retry: 1500, data: '{"a":1}', id: 'k9x2fq.1z', event: 'price' }),
      'event: price\nid: k9x2fq.1z\nretry: 1500\ndata: {"a":1}\n\n',
    )
  })

  test('writes one space after every colon, so leading spaces in values survive', () => {
    const stream = encodeEvent({ event: ' t', id: ' 1', data: '  two spaces' })
    assert.equal(stream, 'event:  t\nid:  1\ndata:   two spaces\n\n')
    assert.deepStrictEqual(parseEveryWay(stream), [ev('  two spaces', { type: ' t', id: ' 1' })])
  })

  test('writes an empty id, which resets the last event id', () => {
    assert.equal(encodeEvent({ id: '', data: 'x' }), 'id: \ndata: x\n\n')
  })

  test('writes an empty event type, which parsers read as message', () => {
    const stream = encodeEvent({ event: '', data: 'x' })
    assert.equal(stream, 'event: \ndata: x\n\n')
    assert.deepStrictEqual(parseEveryWay(stream), [ev('x')])
  })

  test('writes retry 0 and Number.MAX_SAFE_INTEGER', () => {
    assert.equal(encodeEvent({ retry: 0, data: '' }), 'retry: 0\ndata: \n\n')
    assert.equal(encodeEvent({ retry: -0, data: '' }), 'retry: 0\ndata: \n\n')
    assert.equal(
      encodeEvent({ retry: Number.MAX_SAFE_INTEGER, data: '' }),
      'retry: 9007199254740991\ndata: \n\n',
    )
  })

  const splits: Array<[string, string, string]> = [
    ['LF', 'a\nb', 'data: a\ndata: b\n\n'],
    ['CRLF', 'a\r\nb', 'data: a\ndata: b\n\n'],
    ['CR', 'a\rb', 'data: a\ndata: b\n\n'],
    ['mixed line ends', 'a\r\nb\rc\nd', 'data: a\ndata: b\ndata: c\ndata: d\n\n'],
    ['LFCR (two breaks)', 'a\n\rb', 'data: a\ndata: \ndata: b\n\n'],
    ['a blank line', 'a\n\nb', 'data: a\ndata: \ndata: b\n\n'],
    ['a trailing newline', 'a\n', 'data: a\ndata: \n\n'],
    ['a leading CRLF', '\r\na', 'data: \ndata: a\n\n'],
    ['only CRLF', '\r\n', 'data: \ndata: \n\n'],
    ['the empty string', '', 'data: \n\n'],
    ['NUL', 'a\0b', 'data: a\0b\n\n'],
    ['U+2028 (not a line end)', 'a\u2028b', 'data: a\u2028b\n\n'],
  ]
  for (const [what, data, expected] of splits) {
    test(`splits data with ${what} into data lines that parse back to it`, () => {
      const stream = encodeEvent({ data })
      assert.equal(stream, expected)
      assert.deepStrictEqual(parseEveryWay(stream), [ev(data.replace(/\r\n|\r/g, '\n'))])
    })
  }

  test('ends every event in exactly one blank line with LF line ends only', () => {
    for (const data of ['', 'a', 'a\r\n', 'a\r', '\n\n']) {
      const stream = encodeEvent({ data, event: 'e', id: '1', retry: 5 })
      assert.ok(stream.endsWith('\n\n') && !stream.endsWith('\n\n\n'), JSON.stringify(stream))
      assert.ok(!stream.includes('\r'), JSON.stringify(stream))
    }
  })
})

describe('encodeEvent: injection (SECURITY.md)', () => {
  test('rejects id "a\\ndata: x" with SSE_ERR_WIRE_INVALID_ID', () => {
    assertSseError(() => encodeEvent({ id: 'a\ndata: x', data: 'ok' }), 'SSE_ERR_WIRE_INVALID_ID', 'id')
  })

  test('rejects event "m\\revent: admin" with SSE_ERR_WIRE_INVALID_EVENT', () => {
    assertSseError(
      () => encodeEvent({ event: 'm\revent: admin', data: 'ok' }),
      'SSE_ERR_WIRE_INVALID_EVENT',
      'event',
    )
  })

  for (const id of ['a\rb', 'a\r\nb', 'a\nb', 'a\0b', '\0', '\n']) {
    test(`rejects id ${JSON.stringify(id)} with SSE_ERR_WIRE_INVALID_ID`, () => {
      assertSseError(() => encodeEvent({ id, data: '' }), 'SSE_ERR_WIRE_INVALID_ID', 'id')
    })
  }

  for (const event of ['a\rb', 'a\r\nb', 'a\nb', 'a\0b', '\r']) {
    test(`rejects event ${JSON.stringify(event)} with SSE_ERR_WIRE_INVALID_EVENT`, () => {
      assertSseError(() => encodeEvent({ event, data: '' }), 'SSE_ERR_WIRE_INVALID_EVENT', 'event')
    })
  }

  test('reads data "x\\revent: foo" back as exactly one message event with that data', () => {
    const stream = encodeEvent({ data: 'x\revent: foo' })
    assert.deepStrictEqual(parseEveryWay(stream), [ev('x\nevent: foo')])
  })

  test('reads data "a\\n\\nevent: x" back as exactly one message event with that data', () => {
    const stream = encodeEvent({ data: 'a\n\nevent: x' })
    assert.deepStrictEqual(parseEveryWay(stream), [ev('a\n\nevent: x')])
  })

  test('reads data that spells out a whole forged event back as one event', () => {
    const data = '\r\n\r\nid: 666\r\nevent: admin\r\ndata: pwned\r\n\r\n'
    const stream = encodeEvent({ data, id: '1', event: 'chat' })
    assert.deepStrictEqual(parseEveryWay(stream), [
      ev(data.replace(/\r\n|\r/g, '\n'), { type: 'chat', id: '1' }),
    ])
  })

  const badRetries: Array<[string, number]> = [
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['2 ** 53', 2 ** 53],
  ]
  for (const [what, retry] of badRetries) {
    test(`rejects retry ${what} with SSE_ERR_WIRE_INVALID_RETRY`, () => {
      assertSseError(() => encodeEvent({ retry, data: '' }), 'SSE_ERR_WIRE_INVALID_RETRY', 'retry')
    })
  }

  test('rejects a retry that is not a number with SSE_ERR_WIRE_INVALID_RETRY', () => {
    const message = { retry: '1000', data: '' } as unknown as SseMessage
    assertSseError(() => encodeEvent(message), 'SSE_ERR_WIRE_INVALID_RETRY', 'retry')
  })

  for (const data of [undefined, null, 42, { a: 1 }]) {
    test(`rejects data ${JSON.stringify(data)} with SSE_ERR_WIRE_INVALID_DATA`, () => {
      const message = { data } as unknown as SseMessage
      assertSseError(() => encodeEvent(message), 'SSE_ERR_WIRE_INVALID_DATA', 'data')
    })
  }

  test('rejects an id or event that is not a string', () => {
    assertSseError(
      () => encodeEvent({ id: 7, data: '' } as unknown as SseMessage),
      'SSE_ERR_WIRE_INVALID_ID',
      'id',
    )
    assertSseError(
      () => encodeEvent({ event: null, data: '' } as unknown as SseMessage),
      'SSE_ERR_WIRE_INVALID_EVENT',
      'event',
    )
  })
})

describe('encodeComment', () => {
  test('writes one comment line with one space after the colon', () => {
    assert.equal(encodeComment('keep-alive'), ': keep-alive\n')
  })

  test('writes the empty comment as a bare colon line', () => {
    assert.equal(encodeComment(''), ':\n')
  })

  test('splits text on CRLF, CR and LF into one comment line each', () => {
    assert.equal(encodeComment('a\r\nb\rc\nd'), ': a\n: b\n: c\n: d\n')
    assert.equal(encodeComment('a\n\nb\n'), ': a\n:\n: b\n:\n')
  })

  test('produces comments that fire no event and cannot forge a field', () => {
    const text = 'x\r\ndata: forged\revent: admin\n\nid: 1'
    const stream = encodeComment(text)
    assert.deepStrictEqual(parseEveryWay(`${stream}\n`), [
      { kind: 'comment', text: 'x' },
      { kind: 'comment', text: 'data: forged' },
      { kind: 'comment', text: 'event: admin' },
      { kind: 'comment', text: '' },
      { kind: 'comment', text: 'id: 1' },
    ])
    assert.equal(record([`${stream}\n`]).lastEventId, '')
  })

  test('keeps NUL in a comment', () => {
    assert.equal(encodeComment('a\0b'), ': a\0b\n')
  })

  test('rejects a comment that is not a string with SSE_ERR_WIRE_INVALID_DATA', () => {
    assertSseError(() => encodeComment(1 as unknown as string), 'SSE_ERR_WIRE_INVALID_DATA', 'comment')
  })
})

describe('encodeControl', () => {
  test('writes id and retry lines and a blank line, without a data line', () => {
    assert.equal(encodeControl({ id: '42' }), 'id: 42\n\n')
    assert.equal(encodeControl({ retry: 2000 }), 'retry: 2000\n\n')
    assert.equal(encodeControl({ retry: 2000, id: '42' }), 'id: 42\nretry: 2000\n\n')
  })

  test('moves the last event id without firing an event', () => {
    const stream =
      encodeEvent({ id: '1', data: 'a' }) + encodeControl({ id: '7' }) + encodeEvent({ data: 'b' })
    const { log, lastEventId } = record([stream])
    assert.deepStrictEqual(log, [ev('a', { id: '1' }), ev('b', { lastEventId: '7' })])
    assert.equal(lastEventId, '7')
    assert.deepStrictEqual(parseEveryWay(stream), log)
  })

  test('resets the last event id with an empty id', () => {
    const { log, lastEventId } = record([encodeEvent({ id: '1', data: 'a' }) + encodeControl({ id: '' })])
    assert.deepStrictEqual(log, [ev('a', { id: '1' })])
    assert.equal(lastEventId, '')
  })

  test('sets the reconnection time without firing an event', () => {
    assert.deepStrictEqual(parseEveryWay(encodeControl({ retry: 3000, id: 'x' })), [
      { kind: 'retry', ms: 3000 },
    ])
  })

  test('rejects a record with neither id nor retry with SSE_ERR_OPTION_INVALID', () => {
    assertSseError(() => encodeControl({}), 'SSE_ERR_OPTION_INVALID')
  })

  test('validates id and retry like encodeEvent', () => {
    assertSseError(() => encodeControl({ id: 'a\ndata: x' }), 'SSE_ERR_WIRE_INVALID_ID', 'id')
    assertSseError(() => encodeControl({ id: 'a\0' }), 'SSE_ERR_WIRE_INVALID_ID', 'id')
    assertSseError(() => encodeControl({ retry: -1 }), 'SSE_ERR_WIRE_INVALID_RETRY', 'retry')
    assertSseError(() => encodeControl({ id: 'ok', retry: 0.5 }), 'SSE_ERR_WIRE_INVALID_RETRY', 'retry')
  })
})

describe('sseHeaders', () => {
  test('returns the event-stream headers with keep-alive on HTTP/1.1', () => {
    assert.deepStrictEqual(sseHeaders(), {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    assert.deepStrictEqual(sseHeaders({ http2: false }), sseHeaders())
  })

  test('leaves out the connection header on HTTP/2', () => {
    assert.deepStrictEqual(sseHeaders({ http2: true }), {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
  })

  test('returns a new object on every call', () => {
    const headers = sseHeaders()
    headers['x-extra'] = '1'
    assert.equal(sseHeaders()['x-extra'], undefined)
  })
})

describe('isEventStreamContentType', () => {
  test('exports the essence as SSE_CONTENT_TYPE', () => {
    assert.equal(SSE_CONTENT_TYPE, 'text/event-stream')
  })

  for (const value of [
    'text/event-stream',
    'text/event-stream; charset=utf-8',
    'Text/Event-Stream',
    'TEXT/EVENT-STREAM;charset=latin1',
    '  text/event-stream  ',
    '\ttext/event-stream\t; foo=bar',
    'text/event-stream;',
  ]) {
    test(`accepts ${JSON.stringify(value)}`, () => assert.equal(isEventStreamContentType(value), true))
  }

  for (const value of [
    null,
    undefined,
    '',
    'text/plain',
    'text/event-streams',
    'text/event-stream-x',
    'text/event',
    'text /event-stream',
    'text/ event-stream',
    'application/json; type=text/event-stream',
    'x text/event-stream',
    'text/event-stream x',
    'text/event-stream\u000b',
    'text/event-\u017Ftream', // LATIN SMALL LETTER LONG S: toUpperCase() gives S, but not in ASCII folding
  ]) {
    test(`rejects ${JSON.stringify(value)}`, () => assert.equal(isEventStreamContentType(value), false))
  }
})
