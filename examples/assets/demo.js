// Helpers shared by the demo pages: a connection status line and an event log. Plain browser
// JavaScript, no build step.

const clock = () => new Date().toLocaleTimeString([], { hour12: false })

/** A log panel (`<div class="log">`): `log(text, kind)` appends a timestamped line. */
export function createLog(element, max = 200) {
  return (text, kind = '') => {
    const line = document.createElement('div')
    const time = document.createElement('span')
    time.className = 't'
    time.textContent = `${clock()} `
    const body = document.createElement('span')
    body.className = kind
    body.textContent = text
    line.append(time, body)
    element.append(line)
    while (element.childElementCount > max) element.firstElementChild.remove()
    element.scrollTop = element.scrollHeight
  }
}

/**
 * The connection status (`<div class="connection"><span class="pill"></span><span class="stats"></span></div>`):
 * connecting, open, reconnecting, closed; counts connections and errors.
 */
export function createStatus(element) {
  const pill = element.querySelector('.pill')
  const stats = element.querySelector('.stats')
  const state = { opens: 0, errors: 0, lastEventId: '' }
  const render = () => {
    const reconnects = Math.max(0, state.opens - 1)
    stats.textContent = `reconnects: ${reconnects} · errors: ${state.errors}${
      state.lastEventId ? ` · last id: ${state.lastEventId}` : ''
    }`
    element.dataset.opens = String(state.opens)
  }
  const show = (kind, text) => {
    pill.className = `pill ${kind}`
    pill.textContent = text
    element.dataset.state = kind
  }
  show('connecting', 'connecting…')
  render()
  return {
    state,
    /** Records the id of an event (what the next reconnect resumes after). */
    saw(event) {
      if (event.lastEventId) state.lastEventId = event.lastEventId
      render()
    },
    open() {
      state.opens++
      show('open', state.opens > 1 ? 'open · resumed' : 'open')
      render()
    },
    reconnecting(text = 'reconnecting…') {
      state.errors++
      show('connecting', text)
      render()
    },
    closed(text = 'closed', kind = 'closed') {
      show(kind, text)
      render()
    },
  }
}

/** Shows what a native EventSource does: open, lost (it reconnects by itself), failed, reset. */
export function watchEventSource(source, status, log) {
  source.addEventListener('open', () => {
    status.open()
    if (status.state.opens === 1) log('connected', 'ok')
    else log(`reconnected: the browser sent Last-Event-ID ${status.state.lastEventId || '(none)'}`, 'ok')
  })
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      status.closed('failed', 'error')
      log('the connection failed; EventSource gave up', 'bad')
    } else {
      status.reconnecting()
      log('connection lost; EventSource reconnects with Last-Event-ID', 'warn')
    }
  })
  source.addEventListener('ssehub.reset', (event) => {
    status.saw(event)
    log(`reset (${JSON.parse(event.data).reason}): history could not cover the gap, refetching state`, 'bad')
  })
}

/** The same for an @ssehub/client stream. */
export function watchClient(client, status, log) {
  client.addEventListener('open', () => {
    status.open()
    if (status.state.opens === 1) log('connected', 'ok')
    else log(`reconnected, resumed after ${status.state.lastEventId || '(start)'}`, 'ok')
  })
  client.addEventListener('error', (event) => {
    if (client.readyState === client.CLOSED) {
      status.closed(`failed: ${event.error.code}`, 'error')
      log(`failed for good: ${event.error.message}`, 'bad')
    } else if (client.readyState === client.CONNECTING) {
      status.reconnecting()
      log(`${event.error.code}: reconnecting with backoff`, 'warn')
    } else {
      log(`dropped one event: ${event.error.message}`, 'warn')
    }
  })
  client.addEventListener('reset', (event) => {
    status.saw(event)
    log(`reset (${event.reason}): history could not cover the gap, refetching state`, 'bad')
  })
}
