import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createParser, isSseError, type ParsedEvent } from '../src/wire/index.js'
import { RULES, SPEC_EXAMPLES } from './fixtures/wire-fixtures.js'
import { assertFixture, type Entry, ev, feedings, record, recordingParser } from './fixtures/wire-harness.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('parser: worked examples of the standard, fed whole, per code unit, split, and as bytes', () => {
  for (const fixture of SPEC_EXAMPLES) test(fixture.name, () => assertFixture(fixture))
})

describe('parser: WHATWG rules, fed whole, per code unit, split, and as bytes', () => {
  for (const fixture of RULES) test(fixture.name, () => assertFixture(fixture))
})

describe('parser: the fixture harness', () => {
  test('cuts a stream in every way: whole, per code unit, at every index, and at every byte', () => {
    const labels = [...feedings('a\u00e9')].map((feeding) => feeding.label)
    assert.deepStrictEqual(labels, [
      'whole string',
      'one code unit at a time',
      'string split at 0',
      'string split at 1',
      'string split at 2',
      'whole bytes',
      'bytes split at 0',
      'bytes split at 1',
      'bytes split at 2',
      'bytes split at 3',
      'one byte at a time',
    ])
  })
})

describe('parser: chunk boundaries', () => {
  test('reads a CR ending one chunk and an LF starting the next as one line end', () => {
    const { log } = record(['data: a\r', '\ndata: b\r', '\n\r', '\n'])
    assert.deepStrictEqual(log, [ev('a\nb')])
  })

  test('reads a CR ending one chunk and a CR starting the next as two line ends', () => {
    const { log } = record(['data: a\r', '\rdata: b\n\n'])
    assert.deepStrictEqual(log, [ev('a'), ev('b')])
  })

  test('keeps waiting for the LF of a split CRLF across empty chunks', () => {
    const { log } = record(['data: a\r', '', new Uint8Array(0), '\ndata: b\n\n'])
    assert.deepStrictEqual(log, [ev('a\nb')])
  })

  test('fires an event as soon as its blank line has arrived', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('data: a\n')
    assert.deepStrictEqual(log, [])
    parser.feed('\r')
    assert.deepStrictEqual(log, [ev('a')])
  })

  test('strips a BOM whose bytes arrive in separate chunks', () => {
    const { log } = record([
      Uint8Array.of(0xef),
      Uint8Array.of(0xbb),
      Uint8Array.of(0xbf),
      bytes('data: a\n\n'),
    ])
    assert.deepStrictEqual(log, [ev('a')])
  })

  test('strips a BOM fed as a string after an empty string', () => {
    const { log } = record(['', '\uFEFFdata: a\n\n'])
    assert.deepStrictEqual(log, [ev('a')])
  })

  test('flushes an incomplete byte sequence as U+FFFD when a string follows bytes', () => {
    const { log } = record([bytes('data: a'), Uint8Array.of(0xe2, 0x82), '\n\n'])
    assert.deepStrictEqual(log, [ev('a\uFFFD')])
  })

  test('parses a 1 MiB line fed one character at a time', () => {
    const line = 'x'.repeat(1024 * 1024 - 6)
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('data: ')
    for (let i = 0; i < line.length; i += 1) parser.feed(line[i] ?? '')
    parser.feed('\n\n')
    assert.equal(log.length, 1)
    assert.equal(log[0]?.kind === 'event' ? log[0].data : undefined, line)
  })
})

describe('parser: reset and end of stream', () => {
  test('keeps lastEventId across reset and discards the unfinished event and its id', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('id: 1\ndata: a\n\nid: 2\nevent: t\ndata: b\n')
    parser.reset()
    assert.equal(parser.lastEventId, '1')
    parser.feed('data: c\n\n')
    assert.deepStrictEqual(log, [ev('a', { id: '1' }), ev('c', { lastEventId: '1' })])
  })

  test('discards the partial line on reset', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('data: a\n\ndata: b')
    parser.reset()
    parser.feed('\n\n')
    assert.deepStrictEqual(log, [ev('a')])
  })

  test('forgets a CR awaiting its LF on reset', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('data: a\r')
    parser.reset()
    parser.feed('\ndata: b\n\n')
    // The new stream starts with a blank line (dispatching nothing), then fires `b`.
    assert.deepStrictEqual(log, [ev('b')])
  })

  test('strips a BOM again at the start of the next stream after reset', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('\uFEFFdata: a\n\n')
    parser.reset()
    parser.feed(bytes('\uFEFFdata: b\n\n'))
    assert.deepStrictEqual(log, [ev('a'), ev('b')])
  })

  test('drops bytes of an incomplete character on reset', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed(Uint8Array.of(...bytes('data: a\n\n'), 0xe2, 0x82))
    parser.reset()
    parser.feed(bytes('data: b\n\n'))
    assert.deepStrictEqual(log, [ev('a'), ev('b')])
  })

  test('processes the unterminated last line on reset with consume but never fires its event', () => {
    const log: Entry[] = []
    const parser = recordingParser(log)
    parser.feed('data: a\n: bye')
    parser.reset({ consume: true })
    parser.feed('retry: 7')
    parser.reset({ consume: true })
    parser.feed('data: b\n\nid: 9\ndata: c')
    parser.reset({ consume: true })
    parser.feed(Uint8Array.of(...bytes(':'), 0xe2))
    parser.reset({ consume: true })
    assert.deepStrictEqual(log, [
      { kind: 'comment', text: 'bye' },
      { kind: 'retry', ms: 7 },
      ev('b'),
      { kind: 'comment', text: '\uFFFD' },
    ])
    assert.equal(parser.lastEventId, '')
  })

  test('stops parsing the rest of a chunk when a callback resets the parser', () => {
    const events: ParsedEvent[] = []
    const parser = createParser({
      onEvent: (event) => {
        events.push(event)
        parser.reset()
      },
    })
    parser.feed('data: a\n\ndata: b\n\ndata: c')
    parser.feed('\n\ndata: d\n\n')
    assert.deepStrictEqual(
      events.map((event) => event.data),
      ['a', 'd'],
    )
  })

  test('a new parser starts with an empty lastEventId', () => {
    const parser = createParser({ onEvent: () => {} })
    assert.equal(parser.lastEventId, '')
  })
})

describe('parser: buffer bounds', () => {
  test('drops an overlong line silently when there is no onError, without throwing', () => {
    const events: string[] = []
    const parser = createParser({ onEvent: (event) => events.push(event.data), maxBufferSize: 16 })
    parser.feed(`data: ${'x'.repeat(100)}`)
    parser.feed(`${'x'.repeat(100)}\n\ndata: ok\n\n`)
    assert.deepStrictEqual(events, ['ok'])
  })

  test('reports an overflow as an SseError with code SSE_ERR_PARSER_BUFFER_OVERFLOW', () => {
    const errors: unknown[] = []
    const parser = createParser({
      onEvent: () => {},
      onError: (error) => errors.push(error),
      maxBufferSize: 4,
    })
    parser.feed('data: 12345\n\n')
    assert.equal(errors.length, 1)
    assert.ok(isSseError(errors[0], 'SSE_ERR_PARSER_BUFFER_OVERFLOW'))
  })

  test('uses DEFAULT_MAX_BUFFER_SIZE (1 MiB) when maxBufferSize is not given', () => {
    const { log } = record([`data: ${'x'.repeat(1024 * 1024)}\n\ndata: ${'y'.repeat(1000)}\n\n`])
    assert.deepStrictEqual(log, [
      { kind: 'error', code: 'SSE_ERR_PARSER_BUFFER_OVERFLOW' },
      ev('y'.repeat(1000)),
    ])
  })

  test('reports an overlong unterminated line once, however many chunks it spans', () => {
    const log: Entry[] = []
    const parser = recordingParser(log, { maxBufferSize: 8 })
    for (let i = 0; i < 100; i++) parser.feed('data: xxxx')
    parser.feed('\n\ndata: ok\n\n')
    assert.deepStrictEqual(log, [{ kind: 'error', code: 'SSE_ERR_PARSER_BUFFER_OVERFLOW' }, ev('ok')])
  })

  for (const maxBufferSize of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    test(`rejects maxBufferSize ${maxBufferSize} with SSE_ERR_OPTION_INVALID`, () => {
      assert.throws(
        () => createParser({ onEvent: () => {}, maxBufferSize }),
        (error) => isSseError(error, 'SSE_ERR_OPTION_INVALID') && error.field === 'maxBufferSize',
      )
    })
  }

  test('rejects a missing onEvent with SSE_ERR_OPTION_INVALID', () => {
    assert.throws(
      () => createParser({} as unknown as Parameters<typeof createParser>[0]),
      (error) => isSseError(error, 'SSE_ERR_OPTION_INVALID') && error.field === 'onEvent',
    )
  })
})
