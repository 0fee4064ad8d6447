import { type InlinePage, inlinePageHeaders, inlinePageHtml } from './inline-page.js'

/**
 * The demo page served at `GET /`: one self-contained HTML document (inline CSS and JS, no
 * external resource) that subscribes with the browser's native `EventSource` and publishes with
 * `fetch`. Everything it shows from the network goes through `textContent`, never `innerHTML`.
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #667085;
  --line: #e3e6eb; --accent: #3b5bdb; --ok: #2b8a3e; --warn: #e67700; --bad: #c92a2a; --reset: #fff4e6; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --panel: #1b1f27; --text: #e6e8ec;
  --muted: #98a2b3; --line: #2c323d; --accent: #7c94ff; --ok: #51cf66; --warn: #ffa94d; --bad: #ff6b6b;
  --reset: #3a2a12; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 12px; padding: 14px 24px; border-bottom: 1px solid var(--line);
  background: var(--panel); }
header h1 { font-size: 18px; margin: 0; letter-spacing: .3px; }
header .sub { color: var(--muted); }
.pill { margin-left: auto; display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px;
  border-radius: 999px; border: 1px solid var(--line); font-weight: 600; font-size: 12px; }
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--muted); }
.pill.open::before { background: var(--ok); } .pill.connecting::before { background: var(--warn); }
.pill.closed::before { background: var(--bad); }
main { display: grid; grid-template-columns: 340px 1fr; gap: 16px; padding: 16px 24px; }
@media (max-width: 860px) { main { grid-template-columns: 1fr; } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0 0 10px; }
label { display: block; font-size: 12px; color: var(--muted); margin: 8px 0 3px; }
input[type=text], textarea { width: 100%; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--text); font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
textarea { min-height: 84px; resize: vertical; }
button { margin-top: 10px; padding: 7px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff;
  font-weight: 600; cursor: pointer; } button.secondary { background: transparent; color: var(--accent);
  border: 1px solid var(--accent); }
.row { display: flex; gap: 8px; align-items: center; } .row > * { flex: 1; }
.check { display: flex; gap: 6px; align-items: center; margin-top: 8px; font-size: 12px; color: var(--muted); }
.stats { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin-top: 12px; font-size: 12px; }
.stats dt { color: var(--muted); } .stats dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
.result { margin-top: 8px; font-size: 12px; min-height: 1.4em; word-break: break-word; }
.result.ok { color: var(--ok); } .result.bad { color: var(--bad); }
.log-head { display: flex; align-items: center; gap: 10px; } .log-head h2 { margin: 0; }
.log-head button { margin: 0 0 0 auto; padding: 3px 10px; font-size: 12px; }
ol#log { list-style: none; margin: 10px 0 0; padding: 0; max-height: calc(100vh - 190px); overflow: auto; }
ol#log li { display: grid; grid-template-columns: 74px 150px 1fr; gap: 10px; padding: 7px 8px;
  border-top: 1px solid var(--line); font-size: 13px; }
ol#log li .time { color: var(--muted); font-variant-numeric: tabular-nums; }
ol#log li .type { font-weight: 600; word-break: break-all; } ol#log li .id { color: var(--muted); font-size: 11px;
  font-family: ui-monospace, monospace; word-break: break-all; }
ol#log li pre { margin: 0; white-space: pre-wrap; word-break: break-word; font: 12.5px ui-monospace, monospace; }
ol#log li.reset { background: var(--reset); border-left: 3px solid var(--warn); }
ol#log li.reset .type { color: var(--warn); }
ol#log li.system { color: var(--muted); font-style: italic; } ol#log li.system.bad { color: var(--bad); }
.empty { color: var(--muted); padding: 20px 8px; }
section.gap { margin-top: 16px; }
`

const SCRIPT = `
'use strict'
var $ = function (id) { return document.getElementById(id) }
var source = null
var listening = new Set()
var everOpened = false
var reconnects = 0
var received = 0
var MAX_ROWS = 500

function list(value) { return value.split(/[\\s,]+/).filter(function (s) { return s !== '' }) }
function setState(state, text) { var pill = $('state'); pill.className = 'pill ' + state; pill.textContent = text }
function text(tag, className, value) {
  var el = document.createElement(tag); if (className) el.className = className; el.textContent = value; return el
}
function addRow(className, type, id, data) {
  var log = $('log'); var empty = $('empty'); if (empty) empty.remove()
  var li = document.createElement('li'); if (className) li.className = className
  var meta = document.createElement('div'); meta.appendChild(text('div', 'type', type)); if (id) meta.appendChild(text('div', 'id', id))
  li.appendChild(text('span', 'time', new Date().toLocaleTimeString([], { hour12: false })))
  li.appendChild(meta)
  li.appendChild(text('pre', '', data))
  log.insertBefore(li, log.firstChild)
  while (log.children.length > MAX_ROWS) log.removeChild(log.lastChild)
}
function system(message, bad) { addRow(bad ? 'system bad' : 'system', '—', '', message) }
function onEvent(event) {
  received++; $('received').textContent = String(received); $('lastId').textContent = event.lastEventId || '(none)'
  if (event.type === 'ssehub.reset') {
    var detail = event.data
    try { var reset = JSON.parse(event.data); detail = 'history lost (' + reset.reason + ') after id ' +
      JSON.stringify(reset.lastEventId) + ': refetch your state.\\n' + event.data } catch (e) {}
    addRow('reset', event.type, event.lastEventId, detail)
  } else {
    addRow('', event.type, event.lastEventId, event.data)
  }
}
function listen(type) {
  if (listening.has(type)) return
  listening.add(type)
  if (source) source.addEventListener(type, onEvent)
}
function eventsUrl() {
  var url = new URL('events', location.href)
  var channels = list($('channels').value); if (channels.length === 0) channels = ['sse']
  channels.forEach(function (c) { url.searchParams.append('channel', c) })
  return url
}
function explainFailure(url) {
  var controller = new AbortController()
  fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } }).then(function (response) {
    if (response.ok) { controller.abort(); system('the stream closed; press Connect to retry', true); return }
    return response.json().then(function (body) {
      system('the hub refused the stream: ' + response.status + ' ' + body.error.code + ': ' + body.error.message, true)
    })
  }).catch(function () { system('the hub cannot be reached; press Connect to retry', true) })
}
function connect() {
  disconnect(true)
  var url = eventsUrl()
  $('channels').value = list($('channels').value).join(', ') || 'sse'
  source = new EventSource(url)
  everOpened = false
  setState('connecting', 'connecting')
  var types = list($('types').value); types.push('message')
  var wanted = new Set(types); listening = new Set()
  wanted.forEach(function (t) { listen(t) })
  source.addEventListener('ssehub.reset', onEvent)
  source.onopen = function () {
    setState('open', 'open')
    if (everOpened) { reconnects++; $('reconnects').textContent = String(reconnects)
      system('reconnected: the browser sent its Last-Event-ID, the hub replays what was missed') }
    else system('connected to ' + url.pathname + url.search)
    everOpened = true
  }
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) { setState('closed', 'closed'); explainFailure(url) }
    else { setState('connecting', 'reconnecting'); system('connection lost; the browser reconnects by itself') }
  }
  $('connect').textContent = 'Reconnect'
}
function disconnect(quiet) {
  if (!source) return
  source.close(); source = null; setState('closed', 'closed'); if (!quiet) system('disconnected')
}
$('subscribe').addEventListener('submit', function (e) { e.preventDefault(); connect() })
$('disconnect').addEventListener('click', function () { disconnect(false) })
$('clear').addEventListener('click', function () { var log = $('log'); while (log.firstChild) log.removeChild(log.firstChild) })
$('types').addEventListener('change', function () { list($('types').value).forEach(listen) })
$('publish').addEventListener('submit', function (e) {
  e.preventDefault()
  var result = $('result'); result.className = 'result'; result.textContent = 'sending…'
  var body = { channel: $('pubChannel').value.trim() || 'sse', data: $('pubData').value }
  var type = $('pubEvent').value.trim(); if (type) body.event = type
  var id = $('pubId').value.trim(); if (id) body.id = id
  if ($('asJson').checked) {
    try { body.data = JSON.parse(body.data) } catch (err) { result.className = 'result bad'; result.textContent = 'data is not valid JSON: ' + err.message; return }
  }
  if (type && !listening.has(type)) { listen(type); $('types').value = list($('types').value).concat([type]).join(', ') }
  fetch('publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(function (response) { return response.json().then(function (answer) { return { response: response, answer: answer } }) })
    .then(function (r) {
      if (r.response.ok) { result.className = 'result ok'
        result.textContent = 'published ' + r.answer.id + ' to ' + r.answer.channel + ' (' + r.answer.subscribers + ' subscriber' + (r.answer.subscribers === 1 ? '' : 's') + ')' }
      else { result.className = 'result bad'; var err = r.answer.error
        result.textContent = r.response.status + ' ' + err.code + (err.field ? ' (' + err.field + ')' : '') + ': ' + err.message }
    })
    .catch(function (err) { result.className = 'result bad'; result.textContent = 'request failed: ' + err.message })
})
connect()
`

const BODY = `
<header><h1>ssehub</h1><span class="sub">live Server-Sent Events demo</span>
<span id="state" class="pill closed">closed</span></header>
<main>
<div>
<section>
<h2>Subscribe</h2>
<form id="subscribe">
<label for="channels">Channels and patterns (comma-separated; <code>tasks/*</code> matches a prefix)</label>
<input id="channels" type="text" value="sse" autocomplete="off" spellcheck="false">
<label for="types">Event types to listen for, besides <code>message</code></label>
<input id="types" type="text" value="" placeholder="e.g. greeting, update" autocomplete="off" spellcheck="false">
<div class="row"><button id="connect" type="submit">Connect</button>
<button id="disconnect" class="secondary" type="button">Disconnect</button></div>
</form>
<dl class="stats"><dt>events</dt><dd id="received">0</dd><dt>last id</dt><dd id="lastId">(none)</dd>
<dt>reconnects</dt><dd id="reconnects">0</dd></dl>
</section>
<section class="gap">
<h2>Publish</h2>
<form id="publish">
<div class="row"><div><label for="pubChannel">Channel</label><input id="pubChannel" type="text" value="sse" spellcheck="false"></div>
<div><label for="pubEvent">Event type</label><input id="pubEvent" type="text" placeholder="message" spellcheck="false"></div></div>
<label for="pubId">Id (optional; the hub assigns one)</label>
<input id="pubId" type="text" spellcheck="false">
<label for="pubData">Data</label>
<textarea id="pubData" spellcheck="false">Hello from ssehub!</textarea>
<label class="check"><input id="asJson" type="checkbox"> send data as JSON</label>
<button type="submit">Publish</button>
<div id="result" class="result" role="status"></div>
</form>
</section>
</div>
<section>
<div class="log-head"><h2>Events</h2><button id="clear" class="secondary" type="button">Clear</button></div>
<ol id="log"><li id="empty" class="empty">No events yet. Publish one, or run
<code>ssehub publish --channel sse "hello"</code>.</li></ol>
</section>
</main>
`

const PAGE: InlinePage = {
  head: '<title>ssehub — live events</title>\n<link rel="icon" href="data:,">',
  style: STYLE,
  body: BODY,
  script: SCRIPT,
  cacheControl: 'no-cache',
  imgSrc: 'data:',
}

/** The demo page, as served. */
export const DEMO_PAGE_HTML = inlinePageHtml(PAGE)

/**
 * The response headers of the demo page. The content security policy allows exactly the inline
 * style and script above (by hash) and connections to the hub itself: nothing else can run or load.
 */
export const DEMO_PAGE_HEADERS: Readonly<Record<string, string>> = inlinePageHeaders(PAGE)
