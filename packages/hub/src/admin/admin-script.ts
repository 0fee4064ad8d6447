/**
 * The admin page's script (inline, allowed by hash in the page's content security policy). Plain
 * browser JavaScript, no framework: it reads the admin streams with `fetch` (an `EventSource`
 * cannot send the `Authorization` header), keeps the token in `sessionStorage` (never in a URL),
 * draws the charts as inline SVG, and shows everything from the network through `textContent`.
 */
export const ADMIN_SCRIPT = String.raw`
'use strict'
var $ = function (id) { return document.getElementById(id) }
var TOKEN_KEY = 'ssehub.admin.token'
var CHART_POINTS = 60
var MAX_TAIL_ROWS = 200
var series = { connections: [], publishedPerS: [], deliveredPerS: [], errorsPerS: [] }
var statsAbort = null
var tailAbort = null
var retryTimer = null
var lastErrorsTotal = -1

function token() { return sessionStorage.getItem(TOKEN_KEY) }
function authHeaders(extra) {
  var headers = { authorization: 'Bearer ' + token() }
  for (var key in extra || {}) headers[key] = extra[key]
  return headers
}
function el(tag, className, text) {
  var node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild) }
function clock(time) { return new Date(time).toLocaleTimeString([], { hour12: false }) }
function number(value) {
  if (value >= 10000) return Math.round(value / 1000) + 'k'
  if (value >= 100) return String(Math.round(value))
  return String(Math.round(value * 10) / 10)
}
function setState(state, text) { var pill = $('state'); pill.className = 'pill ' + state; pill.textContent = text }

// Server-Sent Events over fetch: the same line rules as EventSource, for a body we read ourselves.
function readEvents(response, onEvent) {
  var reader = response.body.getReader()
  var decoder = new TextDecoder()
  var buffer = ''
  var type = ''
  var data = []
  var id = ''
  function line(text) {
    if (text === '') {
      if (data.length > 0) onEvent({ type: type || 'message', data: data.join('\n'), id: id })
      type = ''; data = []
      return
    }
    if (text.charAt(0) === ':') return
    var colon = text.indexOf(':')
    var field = colon < 0 ? text : text.slice(0, colon)
    var value = colon < 0 ? '' : text.slice(colon + 1)
    if (value.charAt(0) === ' ') value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') type = value
    else if (field === 'id') id = value
  }
  function pump() {
    return reader.read().then(function (chunk) {
      if (chunk.done) return
      buffer += decoder.decode(chunk.value, { stream: true })
      var lines = buffer.split(/\r\n|\n|\r(?=[^\n])/)
      buffer = lines.pop()
      lines.forEach(line)
      return pump()
    })
  }
  return pump()
}

function refusal(response) {
  return response.json().then(function (body) {
    return response.status + ' ' + body.error.code + ': ' + body.error.message
  }, function () { return 'HTTP ' + response.status })
}

// Sparklines: the last CHART_POINTS samples, right-aligned, scaled to the largest one.
function spark(id, values) {
  var svg = $(id)
  var width = 300, height = 46
  var max = Math.max.apply(null, values.concat([1]))
  var step = width / (CHART_POINTS - 1)
  var start = width - (values.length - 1) * step
  var points = values.map(function (value, i) {
    return (start + i * step).toFixed(1) + ',' + (height - 2 - (value / max) * (height - 6)).toFixed(1)
  })
  var line = points.length > 0 ? 'M' + points.join(' L') : ''
  var area = points.length > 0 ? line + ' L' + width + ',' + height + ' L' + start.toFixed(1) + ',' + height + ' Z' : ''
  svg.querySelector('.line').setAttribute('d', line)
  svg.querySelector('.area').setAttribute('d', area)
}
function push(sample) {
  for (var key in series) {
    series[key].push(sample[key] || 0)
    if (series[key].length > CHART_POINTS) series[key].shift()
  }
}
function drawCharts() {
  spark('chartConnections', series.connections)
  spark('chartPublished', series.publishedPerS)
  spark('chartDelivered', series.deliveredPerS)
  spark('chartErrors', series.errorsPerS)
}

function showSample(sample, totals, errorsTotal) {
  $('connections').textContent = number(sample.connections)
  $('connectionsDetail').textContent = number(sample.connectsPerS) + ' opened/s · ' + number(sample.disconnectsPerS) + ' closed/s'
  $('published').textContent = number(sample.publishedPerS)
  $('publishedDetail').textContent = totals.published + ' since start'
  $('delivered').textContent = number(sample.deliveredPerS)
  $('deliveredDetail').textContent = totals.delivered + ' since start · ' + totals.overflows + ' overflows'
  $('errorsTotal').textContent = number(errorsTotal)
  $('errorsTotalDetail').textContent = number(sample.errorsPerS) + '/s now'
}

function showSelectors(selectors, count) {
  var body = $('channels')
  clear(body)
  $('channelCount').textContent = count + (count === 1 ? ' in use' : ' in use') + (count > selectors.length ? ' · top ' + selectors.length : '')
  $('channelsEmpty').hidden = selectors.length > 0
  var max = selectors.reduce(function (m, s) { return Math.max(m, s.sessions) }, 1)
  selectors.forEach(function (entry) {
    var row = el('tr')
    var name = el('td', 'name', entry.selector)
    if (entry.selector.slice(-1) === '*') name.appendChild(el('span', 'tag', 'pattern'))
    else if (entry.selector.indexOf('ssehub.') === 0) name.appendChild(el('span', 'tag', 'reserved'))
    row.appendChild(name)
    var bar = el('td', 'bar'); var fill = el('span'); fill.style.width = Math.max(2, (entry.sessions / max) * 100) + '%'
    var wrap = el('div', 'bar'); wrap.appendChild(fill); bar.appendChild(wrap); row.appendChild(bar)
    row.appendChild(el('td', 'num', String(entry.sessions)))
    row.addEventListener('click', function () { $('tailChannel').value = entry.selector; $('pubChannel').value = entry.selector.replace(/\*$/, '') })
    body.appendChild(row)
  })
}

function showErrors(errors) {
  var list = $('errors')
  clear(list)
  $('errorsEmpty').hidden = errors.length > 0
  $('errorCount').textContent = errors.length === 0 ? '' : errors.length + ' shown (last 100 kept)'
  errors.slice().reverse().forEach(function (entry) {
    var item = el('li')
    item.appendChild(el('span', 'time', clock(entry.time)))
    var head = el('div', 'head')
    if (entry.status !== undefined) head.appendChild(el('span', 'status', String(entry.status)))
    head.appendChild(document.createTextNode(entry.code))
    if (entry.route) head.appendChild(el('span', 'id', entry.route))
    item.appendChild(head)
    if (entry.message) item.appendChild(el('div', 'msg', entry.message))
    list.appendChild(item)
  })
}

function onStats(event) {
  var data = JSON.parse(event.data)
  if (event.type === 'hello') {
    for (var key in series) series[key] = []
    data.history.forEach(push)
    var uptime = new Date(data.startedAt)
    $('node').textContent = 'up since ' + uptime.toLocaleString([], { hour12: false }) + ' · presence events ' + (data.presenceEvents ? 'on' : 'off')
    showErrors(data.errors)
    var last = data.history[data.history.length - 1]
    if (last) showSample(last, data.totals, data.errorsTotal)
  } else {
    push(data.sample)
    showSample(data.sample, data.totals, data.errorsTotal)
    if (data.errors) showErrors(data.errors)
  }
  lastErrorsTotal = data.errorsTotal
  showSelectors(data.selectors, data.selectorCount)
  drawCharts()
}

function connectStats() {
  if (statsAbort) statsAbort.abort()
  clearTimeout(retryTimer)
  var controller = new AbortController()
  statsAbort = controller
  setState('connecting', 'connecting')
  fetch('/admin/stream', { headers: authHeaders({ accept: 'text/event-stream' }), signal: controller.signal })
    .then(function (response) {
      if (response.status === 401) {
        return refusal(response).then(function () { signOut('That is not the admin token.') })
      }
      if (!response.ok) return refusal(response).then(function (text) { throw new Error(text) })
      setState('open', 'live')
      return readEvents(response, onStats).then(function () { throw new Error('the stream ended') })
    })
    .catch(function (error) {
      if (controller.signal.aborted) return
      setState('connecting', 'reconnecting')
      $('node').textContent = String(error.message || error)
      retryTimer = setTimeout(connectStats, 2000)
    })
}

function tailRow(className, head, id, body) {
  var list = $('tail')
  $('tailEmpty').hidden = true
  var item = el('li', className)
  item.appendChild(el('span', 'time', clock(Date.now())))
  var title = el('div', 'head', head)
  if (id) title.appendChild(el('span', 'id', id))
  item.appendChild(title)
  item.appendChild(el('pre', '', body))
  list.insertBefore(item, list.firstChild)
  while (list.children.length > MAX_TAIL_ROWS) list.removeChild(list.lastChild)
}
function stopTail(quiet) {
  if (!tailAbort) return
  tailAbort.abort(); tailAbort = null
  $('tailStop').hidden = true; $('tailStart').textContent = 'Tail'
  if (!quiet) tailRow('', '—', '', 'stopped')
}
function startTail() {
  stopTail(true)
  var channels = $('tailChannel').value.split(/[\s,]+/).filter(function (c) { return c !== '' })
  if (channels.length === 0) channels = ['sse']
  $('tailChannel').value = channels.join(', ')
  var url = new URL('/admin/events', location.href)
  channels.forEach(function (c) { url.searchParams.append('channel', c) })
  var controller = new AbortController()
  tailAbort = controller
  $('tailStop').hidden = false; $('tailStart').textContent = 'Restart'
  fetch(url, { headers: authHeaders({ accept: 'text/event-stream' }), signal: controller.signal })
    .then(function (response) {
      if (!response.ok) return refusal(response).then(function (text) { throw new Error(text) })
      tailRow('', '—', '', 'tailing ' + channels.join(', '))
      return readEvents(response, function (event) { tailRow('', event.type, event.id, event.data) })
        .then(function () { if (!controller.signal.aborted) tailRow('', '—', '', 'the stream ended') })
    })
    .catch(function (error) {
      if (controller.signal.aborted) return
      tailRow('', '—', '', 'tail failed: ' + (error.message || error))
    })
}

function publish(e) {
  e.preventDefault()
  var result = $('pubResult')
  result.className = 'result'; result.textContent = 'sending…'
  var body = { channel: $('pubChannel').value.trim() || 'sse', data: $('pubData').value }
  var type = $('pubEvent').value.trim()
  if (type) body.event = type
  fetch('/admin/publish', { method: 'POST', headers: authHeaders({ 'content-type': 'application/json' }), body: JSON.stringify(body) })
    .then(function (response) {
      if (!response.ok) return refusal(response).then(function (text) { result.className = 'result bad'; result.textContent = text })
      return response.json().then(function (answer) {
        result.className = 'result ok'
        result.textContent = 'published ' + answer.id + ' to ' + answer.channel + ' (' + answer.subscribers + ' subscriber' + (answer.subscribers === 1 ? '' : 's') + ' on this node)'
      })
    })
    .catch(function (error) { result.className = 'result bad'; result.textContent = 'request failed: ' + error.message })
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY)
  if (statsAbort) statsAbort.abort()
  stopTail(true)
  clearTimeout(retryTimer)
  $('app').hidden = true; $('signout').hidden = true; $('gate').hidden = false
  setState('closed', 'signed out')
  $('gateError').textContent = message || ''
  $('token').value = ''
  $('token').focus()
}
function start() {
  $('gate').hidden = true; $('app').hidden = false; $('signout').hidden = false
  connectStats()
}

$('gateForm').addEventListener('submit', function (e) {
  e.preventDefault()
  var value = $('token').value.trim()
  if (!value) return
  sessionStorage.setItem(TOKEN_KEY, value)
  start()
})
$('signout').addEventListener('click', function () { signOut('') })
$('tailForm').addEventListener('submit', function (e) { e.preventDefault(); startTail() })
$('tailStop').addEventListener('click', function () { stopTail(false) })
$('tailClear').addEventListener('click', function () { clear($('tail')); $('tailEmpty').hidden = false })
$('pubForm').addEventListener('submit', publish)
if (token()) start(); else signOut('')
`
