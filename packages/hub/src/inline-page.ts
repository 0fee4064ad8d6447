/**
 * A self-contained HTML page (the demo page, the admin page): one document with its style and
 * script inline, served with a content security policy that allows exactly those two (by hash)
 * and connections to the hub itself.
 */
import { createHash } from 'node:crypto'

/** A page of {@link inlinePageHtml} and {@link inlinePageHeaders}. */
export interface InlinePage {
  /** The `<head>` lines between the viewport and the style: the title, and any page-specific ones. */
  readonly head: string
  readonly style: string
  readonly body: string
  readonly script: string
  /** The `cache-control` header. */
  readonly cacheControl: string
  /** The `img-src` directive of the content security policy. */
  readonly imgSrc: string
  /** Also send `x-frame-options: DENY` (for browsers without `frame-ancestors`). */
  readonly denyFraming?: boolean
}

/** A CSP source allowing exactly this inline text. */
function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`
}

/** The page's document. */
export function inlinePageHtml(page: InlinePage): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${page.head}
<style>${page.style}</style>
</head>
<body>${page.body}<script>${page.script}</script>
</body>
</html>
`
}

/** The page's response headers: nothing else than its own style and script can run or load. */
export function inlinePageHeaders(page: InlinePage): Readonly<Record<string, string>> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': page.cacheControl,
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${sha256(page.script)}`,
      `style-src ${sha256(page.style)}`,
      "connect-src 'self'",
      `img-src ${page.imgSrc}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    ...(page.denyFraming === true ? { 'x-frame-options': 'DENY' } : {}),
    'referrer-policy': 'no-referrer',
  }
}
