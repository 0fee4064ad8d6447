import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_CODES } from '@ssehub/core'
import { HUB_ERROR_CODES } from 'ssehub'
import { SERVE_OPTIONS } from '../src/config.js'

const DOC = readFileSync(new URL('../../../docs/hub-api.md', import.meta.url), 'utf8')

/** The cells of every Markdown table row (the formatter pads them, so they are trimmed). */
const ROWS = DOC.split('\n')
  .filter((line) => line.startsWith('|'))
  .map((line) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim()),
  )

test('documents every hub error code with its registry meaning, and no code that does not exist', () => {
  for (const [code, meaning] of Object.entries(HUB_ERROR_CODES)) {
    const row = ROWS.find((cells) => cells[0] === `\`${code}\``)
    assert.ok(row, `${code} has a row in the error code table`)
    assert.equal(row.at(-1), meaning, `${code}: the documented meaning matches the registry`)
  }
  for (const [code] of DOC.matchAll(/\bSSE(?:HUB)?_ERR_[A-Z_]+\b/g)) {
    assert.ok(Object.hasOwn(HUB_ERROR_CODES, code) || Object.hasOwn(ERROR_CODES, code), `${code} exists`)
  }
})

test('documents every option of ssehub serve with its environment variables', () => {
  for (const option of SERVE_OPTIONS) {
    const row = ROWS.find((cells) => cells[0]?.startsWith(`\`--${option.flag}`))
    assert.ok(row, `--${option.flag} has a row in the options table`)
    for (const name of option.env)
      assert.ok(row[1]?.includes(`\`${name}\``), `--${option.flag} documents ${name}`)
  }
})
