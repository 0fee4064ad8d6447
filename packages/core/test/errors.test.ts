import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { describeError, ERROR_CODES, isSseError, SseError } from '@ssehub/core'

describe('error registry', () => {
  it('documents every code in docs/errors.md and documents no code that does not exist', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
    const documented = new Set([...doc.matchAll(/^\|\s*`(SSE_ERR_\w+)`\s*\|/gm)].map((match) => match[1]))
    assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort())
  })

  it('names codes SSE_ERR_<AREA>_<WHAT>', () => {
    for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^SSE_ERR_[A-Z]+(_[A-Z]+)+$/)
  })

  it('carries code, field and cause, with the code as the default message', () => {
    const cause = new Error('inner')
    const error = new SseError('SSE_ERR_ID_DUPLICATE', undefined, { field: 'id', cause })
    assert.equal(error.code, 'SSE_ERR_ID_DUPLICATE')
    assert.equal(error.field, 'id')
    assert.equal(error.cause, cause)
    assert.equal(error.message, 'SSE_ERR_ID_DUPLICATE')
    assert.equal(describeError('SSE_ERR_ID_DUPLICATE'), ERROR_CODES.SSE_ERR_ID_DUPLICATE)
    assert.equal(error.name, 'SseError')
    assert.ok(isSseError(error, 'SSE_ERR_ID_DUPLICATE'))
    assert.ok(!isSseError(error, 'SSE_ERR_HUB_CLOSED'))
    assert.ok(!isSseError(new Error('x')))
  })
})
