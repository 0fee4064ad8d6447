/** Where a JSON text stops being JSON, and why. */
export interface JsonSyntaxError {
  /** Offset (UTF-16 code units) of the first character that is wrong. */
  readonly offset: number
  readonly message: string
}

/** Unwinds the descent at the first error. */
class Stop extends Error {
  readonly offset: number
  constructor(offset: number, message: string) {
    super(message)
    this.offset = offset
  }
}

/**
 * Finds the first syntax error of a JSON text (RFC 8259), or undefined for valid JSON.
 * `JSON.parse` says what is wrong but, in V8, not always where ("Unexpected token '}', ... is
 * not valid JSON"); a config file's errors must name the line and column.
 * @example
 * findJsonSyntaxError('{"port": 80,}') // => { offset: 12, message: 'expected a property name in double quotes' }
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let at = 0
  const fail = (message: string): never => {
    throw new Stop(at, message)
  }
  const space = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text.charAt(at))) at++
  }
  const string = (): void => {
    at++ // the opening quote
    for (;;) {
      if (at >= text.length) fail('unterminated string')
      const char = text.charCodeAt(at)
      if (char === 0x22) {
        at++
        return
      }
      if (char < 0x20) fail('control character in a string (write it escaped, like \\n)')
      if (char === 0x5c) {
        const escaped = text.charAt(at + 1)
        if ('"\\/bfnrt'.includes(escaped) && escaped !== '') at += 2
        else if (escaped === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6))) at += 6
        else fail('invalid escape in a string')
      } else {
        at++
      }
    }
  }
  const eat = (char: string): boolean => {
    if (text.charAt(at) !== char) return false
    at++
    return true
  }
  /** The members of an object or array, from its opening bracket through its closing one. */
  const members = (close: '}' | ']', member: () => void, missing: string): void => {
    at++ // the opening bracket
    space()
    if (eat(close)) return
    for (;;) {
      member()
      space()
      if (eat(',')) continue
      if (eat(close)) return
      fail(missing)
    }
  }
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply')
    space()
    const char = text.charAt(at)
    if (char === '{') {
      members(
        '}',
        () => {
          space()
          if (text.charAt(at) !== '"') fail('expected a property name in double quotes')
          string()
          space()
          if (!eat(':')) fail('expected : after a property name')
          value(depth + 1)
        },
        'expected , or } after a property value',
      )
      return
    }
    if (char === '[') {
      members(']', () => value(depth + 1), 'expected , or ] after an array element')
      return
    }
    if (char === '"') {
      string()
      return
    }
    const number = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(at, at + 400))
    if (number !== null) {
      at += number[0].length
      if (/^[0-9.eE+-]/.test(text.charAt(at))) fail('invalid number')
      return
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, at)) {
        at += word.length
        return
      }
    }
    fail(at >= text.length ? 'unexpected end of the file: expected a value' : 'expected a value')
  }
  try {
    value(0)
    space()
    if (at < text.length) fail('unexpected text after the end of the JSON value')
    return undefined
  } catch (error) {
    if (!(error instanceof Stop)) throw error
    return { offset: error.offset, message: error.message }
  }
}
