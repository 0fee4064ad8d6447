import { type InlinePage, inlinePageHeaders, inlinePageHtml } from '../inline-page.js'
import { ADMIN_SCRIPT } from './admin-script.js'
import { ADMIN_STYLE } from './admin-style.js'

function chart(id: string, color: string): string {
  return `<svg id="${id}" class="spark c-${color}" viewBox="0 0 300 46" preserveAspectRatio="none" aria-hidden="true">
<path class="base" d="M0,45.5 L300,45.5" vector-effect="non-scaling-stroke"/>
<path class="area" d=""/><path class="line" d="" vector-effect="non-scaling-stroke"/></svg>
<div class="axis"><span>60 s ago</span><span>now</span></div>`
}

function card(title: string, id: string, unit: string, color: string, chartId: string): string {
  return `<section class="card"><h2>${title}</h2>
<div><span id="${id}" class="value">–</span><span class="unit">${unit}</span></div>
<div id="${id}Detail" class="detail"></div>${chart(chartId, color)}</section>`
}

const BODY = `
<header><h1>ssehub</h1><span class="sub">admin</span>
<div class="right"><span id="node" class="muted"></span><span id="state" class="pill closed">signed out</span>
<button id="signout" class="secondary small" type="button" hidden>Sign out</button></div></header>
<div id="gate" class="gate" hidden>
<h2>Admin token</h2>
<p>Enter the token the hub was started with (<code>--admin-token</code> or <code>SSEHUB_ADMIN_TOKEN</code>).
It stays in this tab only.</p>
<form id="gateForm"><label for="token">Token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false">
<button type="submit">Open the admin page</button>
<div id="gateError" class="result bad" role="alert"></div></form>
</div>
<main id="app" hidden>
<div class="cards">
${card('Connections', 'connections', 'open', 'accent', 'chartConnections')}
${card('Publish rate', 'published', 'events/s', 'green', 'chartPublished')}
${card('Delivery rate', 'delivered', 'writes/s', 'violet', 'chartDelivered')}
${card('Errors', 'errorsTotal', 'since start', 'orange', 'chartErrors')}
</div>
<div class="grid2">
<section><h2>Channels and patterns <span id="channelCount" class="count muted"></span></h2>
<div class="scroll"><table><thead><tr><th>name</th><th></th><th class="num">streams</th></tr></thead>
<tbody id="channels"></tbody></table>
<div id="channelsEmpty" class="empty">No open streams on this node.</div></div></section>
<section><h2>Recent errors <span id="errorCount" class="count muted"></span></h2>
<div class="scroll"><ol id="errors" class="list"></ol>
<div id="errorsEmpty" class="empty">No errors. Refusals (4xx, 5xx) and unexpected errors appear here.</div></div></section>
</div>
<div class="grid2 bottom">
<section><h2>Publish</h2>
<form id="pubForm">
<div class="row"><div class="grow"><label for="pubChannel">Channel</label>
<input id="pubChannel" type="text" value="sse" spellcheck="false" autocomplete="off"></div>
<div class="grow"><label for="pubEvent">Event type</label>
<input id="pubEvent" type="text" placeholder="message" spellcheck="false" autocomplete="off"></div></div>
<label for="pubData">Data</label>
<textarea id="pubData" spellcheck="false">Hello from the admin page</textarea>
<div class="actions"><button type="submit">Publish</button><div id="pubResult" class="result" role="status"></div></div>
</form></section>
<section><h2>Live tail</h2>
<form id="tailForm"><div class="row"><div class="grow"><label for="tailChannel">Channels and patterns</label>
<input id="tailChannel" type="text" value="sse" spellcheck="false" autocomplete="off"></div>
<button id="tailStart" type="submit">Tail</button>
<button id="tailStop" class="secondary" type="button" hidden>Stop</button>
<button id="tailClear" class="secondary" type="button">Clear</button></div></form>
<div class="scroll"><ol id="tail" class="list"></ol>
<div id="tailEmpty" class="empty">Events of the tailed channels appear here as they are published.</div></div>
</section>
</div>
<p class="foot">Figures are for this node only: with several hubs on Redis each node shows its own streams and rates.</p>
</main>
`

const PAGE: InlinePage = {
  head: '<meta name="referrer" content="no-referrer">\n<title>ssehub admin</title>',
  style: ADMIN_STYLE,
  body: BODY,
  script: ADMIN_SCRIPT,
  cacheControl: 'no-store',
  imgSrc: "'none'",
  denyFraming: true,
}

/** The admin page, as served at `GET /admin`: one document, inline style and script, no data. */
export const ADMIN_PAGE_HTML = inlinePageHtml(PAGE)

/**
 * The response headers of the admin page. The content security policy allows exactly its inline
 * style and script (by hash) and connections to the hub itself; the page may not be framed.
 */
export const ADMIN_PAGE_HEADERS: Readonly<Record<string, string>> = inlinePageHeaders(PAGE)
