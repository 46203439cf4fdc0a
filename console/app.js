// The sandboxd web console: a token login, the sandbox list and one sandbox's page (app
// log, terminal, tasks, background processes, files). Every call is a fetch to /v1 with
// `Authorization: Bearer <token>` (the token lives in sessionStorage, per tab); the
// terminal's WebSocket authenticates with a one-use ticket instead. Tenant data is only
// ever written with textContent, never as HTML. No framework and no build step: the page
// runs under `script-src 'self'; style-src 'self'`, so there is nothing inline.
import { Terminal } from './vendor/xterm/xterm.mjs';
import { FitAddon } from './vendor/xterm/addon-fit.mjs';

const TOKEN_KEY = 'sandboxd.token';
const LIST_EVERY_MS = 3000;
const SANDBOX_EVERY_MS = 3000;
const LOG_EVERY_MS = 1500;
const LOG_TAIL = 65536;
// The list shows idle and app details (one GET each) for this many sandboxes at most.
const DETAILS_MAX = 100;
const TABS = ['log', 'terminal', 'tasks', 'processes', 'files'];

const $ = (id) => document.getElementById(id);

// A new element: `props` sets text (as textContent), class, data-* attributes or plain
// properties; string children become text nodes.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

// A link to `url` when it is http(s), else plain text: previews never become javascript:.
function safeLink(url) {
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  return ok ? el('a', { href: url, text: url, target: '_blank', rel: 'noopener noreferrer' })
            : el('span', { text: url });
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

// ---------------------------------------------------------------------------------------
// Messages and the API client

let messageTimer = null;
function say(text, isError = false) {
  const m = $('message');
  m.textContent = text;
  m.classList.toggle('error', isError);
  clearTimeout(messageTimer);
  if (text) messageTimer = setTimeout(() => say(''), isError ? 8000 : 4000);
}

function report(err) {
  if (err && err.name === 'AbortError') return;
  say(err && err.message ? err.message : String(err), true);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

// fetch(path) with the bearer token. A 401 logs out; any other non-2xx answer throws an
// ApiError with the server's message (the Error shape: {error: {code, message}}).
async function api(path, { method = 'GET', body, signal, headers = {} } = {}) {
  const h = { Authorization: `Bearer ${token()}`, ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
    credentials: 'omit',
  });
  if (res.status === 401) {
    logout('The token was refused: log in again.');
    throw new ApiError(401, 'unauthorized', 'unauthorized');
  }
  if (!res.ok) {
    let code = '';
    let message = `HTTP ${res.status}`;
    try {
      const e = (await res.json()).error;
      code = e.code;
      message = `${e.message} (${e.code})`;
    } catch {
      // Not the Error shape: keep the status.
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

const getJson = async (path, opts) => (await api(path, opts)).json();
const sandboxPath = (id, rest = '') => `/v1/sandboxes/${encodeURIComponent(id)}${rest}`;

// Reads a text/event-stream response, calling onEvent({id, type, data}) per event (data
// parsed as JSON when it is JSON). Resolves when the stream ends.
async function readSse(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { id: null, type: 'message', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (ev.data.length) {
          const text = ev.data.join('\n');
          let data = text;
          try {
            data = JSON.parse(text);
          } catch {
            // Plain text data.
          }
          onEvent({ id: ev.id, type: ev.type, data });
        }
        ev = { id: null, type: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') ev.type = val;
      else if (field === 'data') ev.data.push(val);
      else if (field === 'id') ev.id = val;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Scopes: what a page or tab started (timers, fetches, listeners), undone together.

class Scope {
  constructor() {
    this.alive = true;
    this.controller = new AbortController();
    this.cleanups = [];
  }

  get signal() {
    return this.controller.signal;
  }

  // Runs fn now and then `ms` after each run ends, until disposed; errors are reported.
  poll(ms, fn) {
    let timer = null;
    const tick = async () => {
      if (!this.alive) return;
      try {
        await fn();
      } catch (e) {
        report(e);
      }
      if (this.alive) timer = setTimeout(tick, ms);
    };
    this.cleanups.push(() => clearTimeout(timer));
    tick();
  }

  listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.cleanups.push(() => target.removeEventListener(type, fn));
  }

  onDispose(fn) {
    this.cleanups.push(fn);
  }

  dispose() {
    this.alive = false;
    this.controller.abort();
    for (const fn of this.cleanups.splice(0)) fn();
  }
}

// ---------------------------------------------------------------------------------------
// Login and routing

let page = null;  // {id?, scope, showTab?}

function show(view) {
  for (const v of ['login', 'list', 'sandbox']) $(`${v}-view`).hidden = v !== view;
  $('logout').hidden = view === 'login';
}

function logout(why = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  if (page) page.scope.dispose();
  page = null;
  show('login');
  $('login-error').hidden = !why;
  $('login-error').textContent = why;
  $('token').value = '';
  $('token').focus();
}

async function login(event) {
  event.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  try {
    await api('/v1/sandboxes?limit=1');
  } catch (e) {
    if (e.status !== 401) report(e);
    return;
  }
  $('login-error').hidden = true;
  $('token').value = '';
  route();
}

function route() {
  if (!token()) {
    logout();
    return;
  }
  const m = location.hash.match(/^#\/sandbox\/([A-Za-z0-9]{1,32})(?:\/([a-z]+))?$/);
  const id = m ? m[1].toLowerCase() : null;
  const tab = m && TABS.includes(m[2]) ? m[2] : 'log';
  if (id && page && page.id === id) {
    page.showTab(tab);
    return;
  }
  if (page) page.scope.dispose();
  page = id ? sandboxPage(id, tab) : listPage();
}

// ---------------------------------------------------------------------------------------
// The sandbox list

async function listAll(signal) {
  const all = [];
  let after = null;
  for (let pages = 0; pages < 10; ++pages) {
    const q = after ? `?limit=1000&after=${encodeURIComponent(after)}` : '?limit=1000';
    const body = await getJson(`/v1/sandboxes${q}`, { signal });
    all.push(...body.sandboxes);
    after = body.next_after;
    if (!after) break;
  }
  return all;
}

function statusBadge(status) {
  return el('span', { class: `status status-${status}`, text: status });
}

function previewLinks(sandbox) {
  return el('span', { class: 'previews' },
            ...(sandbox.previews || []).map((p) => safeLink(p.url)));
}

function idleText(sandbox) {
  if (!sandbox.idle) return '';
  const at = sandbox.idle.stops_at ? ` (stops ${when(sandbox.idle.stops_at)})` : '';
  return `${sandbox.idle.reason}${at}`;
}

function listPage() {
  show('list');
  const scope = new Scope();
  const rows = new Map();  // sandbox id -> <tr>
  const body = $('sandbox-rows');
  body.replaceChildren();

  const rowFor = (id) => {
    let tr = rows.get(id);
    if (!tr) {
      const link = el('a', { class: 'sandbox-link', href: `#/sandbox/${id}`, text: id });
      tr = el('tr', { 'data-sandbox-id': id },
              el('td', {}, link), el('td'), el('td'), el('td'), el('td'));
      rows.set(id, tr);
    }
    return tr;
  };

  scope.poll(LIST_EVERY_MS, async () => {
    const summaries = await listAll(scope.signal);
    const details = await Promise.all(summaries.map((s, i) => (
      i < DETAILS_MAX ? getJson(sandboxPath(s.id), { signal: scope.signal }).catch(() => s)
                      : s)));
    if (!scope.alive) return;
    const seen = new Set(details.map((s) => s.id));
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    // Rows are updated in place and moved only when the order changed, so a click
    // on one is never lost to a refresh.
    details.forEach((s, i) => {
      const tr = rowFor(s.id);
      const [, status, app, idle, previews] = tr.children;
      status.replaceChildren(statusBadge(s.status));
      app.textContent = s.app ? s.app.state : '';
      idle.textContent = idleText(s);
      previews.replaceChildren(previewLinks(s));
      if (body.children[i] !== tr) body.append(tr);
    });
    $('list-empty').hidden = rows.size > 0;
  });
  return { scope };
}

// ---------------------------------------------------------------------------------------
// One sandbox

function sandboxPage(id, firstTab) {
  show('sandbox');
  const scope = new Scope();
  $('sandbox-title').textContent = id;
  $('status').textContent = '';
  $('status').dataset.status = '';
  $('idle-reason').textContent = '';
  $('sandbox-previews').replaceChildren();
  for (const b of ['btn-start', 'btn-stop', 'btn-purge']) $(b).disabled = false;

  const render = (s) => {
    $('status').textContent = s.status;
    $('status').dataset.status = s.status;
    $('status').className = `status status-${s.status}`;
    const app = s.app && s.app.state !== 'none' ? `app ${s.app.state}. ` : '';
    $('idle-reason').textContent = app + idleText(s);
    $('sandbox-previews').replaceChildren(previewLinks(s));
    $('btn-start').disabled = s.status === 'running';
    $('btn-stop').disabled = s.status === 'stopped';
  };
  const refresh = async () => {
    try {
      render(await getJson(sandboxPath(id), { signal: scope.signal }));
    } catch (e) {
      if (e.status === 404) {
        say(`There is no sandbox ${id}.`, true);
        location.hash = '#/';
        return;
      }
      throw e;
    }
  };
  scope.poll(SANDBOX_EVERY_MS, refresh);

  const action = (button, verb, path, confirmText) => scope.listen(button, 'click', async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    button.disabled = true;
    say(`${verb} ${id}…`);
    try {
      const res = await api(sandboxPath(id, path), { method: 'POST', signal: scope.signal });
      if (path === '/purge') {
        const p = await res.json();
        say(`Purged ${id} (${p.freed_bytes} bytes freed).`);
        location.hash = '#/';
        return;
      }
      const s = await res.json();
      render(s);
      say(`${id} is ${s.status}.`);
    } catch (e) {
      report(e);
      button.disabled = false;
    }
  });
  action($('btn-start'), 'Starting', '/start');
  action($('btn-stop'), 'Stopping', '/stop');
  action($('btn-purge'), 'Purging', '/purge',
         `Purge sandbox ${id}? Its container, workspace, tasks and snapshots are removed ` +
         'for good.');

  const tabs = {
    log: logTab(id),
    terminal: terminalTab(id, scope),
    tasks: tasksTab(id, scope),
    processes: processesTab(id, scope),
    files: filesTab(id, scope),
  };
  let current = null;
  const showTab = (name) => {
    if (current === name) return;
    if (current) tabs[current].hide();
    current = name;
    for (const t of TABS) {
      $(`panel-${t}`).hidden = t !== name;
      $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
      $(`tab-${t}`).classList.toggle('active', t === name);
    }
    tabs[name].show();
  };
  for (const t of TABS) {
    scope.listen($(`tab-${t}`), 'click', () => {
      location.hash = `#/sandbox/${id}/${t}`;
    });
  }
  scope.onDispose(() => {
    for (const t of Object.values(tabs)) t.dispose();
  });
  showTab(firstTab);
  return { id, scope, showTab };
}

// A tab whose work (polls, streams) runs only while it is shown: start(scope) begins it,
// and the scope is disposed when the tab is hidden or the page left. `once` runs at the
// first show and `disposeAll` when the page is left. Tabs register their listeners on
// the page's scope, so they go with the page.
function lazyTab(start, { once = () => {}, disposeAll = () => {} } = {}) {
  let scope = null;
  let started = false;
  return {
    show() {
      if (!started) once();
      started = true;
      scope = new Scope();
      start(scope);
    },
    hide() {
      if (scope) scope.dispose();
      scope = null;
    },
    dispose() {
      this.hide();
      disposeAll();
    },
  };
}

// Keeps a <pre> scrolled to its end when it was there before `text` replaced its content.
function setFollowing(pre, text) {
  if (pre.textContent === text) return;
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  pre.textContent = text;
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

function logTab(id) {
  const pre = $('app-log');
  pre.textContent = '';
  return lazyTab((scope) => {
    scope.poll(LOG_EVERY_MS, async () => {
      const res = await api(sandboxPath(id, `/logs?tail=${LOG_TAIL}`), { signal: scope.signal });
      setFollowing(pre, await res.text());
    });
  });
}

// xterm.js's DOM renderer writes its per-terminal CSS (font, colours, cursor, row layout)
// into <style> elements, which `style-src 'self'` blocks. A constructed stylesheet is no
// inline style: mirror the text of the <style> elements under `root` into one and adopt
// it. (Cells with 24-bit colours, which xterm styles through a style attribute, stay in
// the default colour.)
function adoptInlineStyles(root) {
  const sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  let last = '';
  const sync = () => {
    const text = [...root.querySelectorAll('style')].map((s) => s.textContent).join('\n');
    if (text !== last) {
      last = text;
      sheet.replaceSync(text);
    }
  };
  const touchesStyle = (r) => r.target.nodeName === 'STYLE' ||
      (r.target.parentNode && r.target.parentNode.nodeName === 'STYLE') ||
      [...r.addedNodes, ...r.removedNodes].some((n) => n.nodeName === 'STYLE');
  const observer = new MutationObserver((records) => {
    if (records.some(touchesStyle)) sync();
  });
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  sync();
  return () => {
    observer.disconnect();
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  };
}

function terminalTab(id, pageScope) {
  const box = $('terminal');
  const stateLabel = $('terminal-state');
  const reconnect = $('terminal-reconnect');
  const encoder = new TextEncoder();
  let term = null;
  let fit = null;
  let ws = null;
  let unadopt = null;
  let resizeObserver = null;
  let visible = false;

  const setState = (state, text) => {
    box.dataset.state = state;
    stateLabel.textContent = text;
    reconnect.hidden = state !== 'closed';
  };
  const send = (data) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
  };
  const fitNow = () => {
    if (visible && fit && box.clientWidth > 0 && box.clientHeight > 0) fit.fit();
  };

  const create = () => {
    box.replaceChildren();
    unadopt = adoptInlineStyles(box);
    term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#111418', foreground: '#d8dee9' },
    });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box);
    term.onData((d) => send(encoder.encode(d)));
    term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0))));
    term.onResize(({ cols, rows }) => send(JSON.stringify({ type: 'resize', cols, rows })));
    resizeObserver = new ResizeObserver(() => fitNow());
    resizeObserver.observe(box);
  };

  const connect = async () => {
    if (ws) ws.close(1000);
    ws = null;
    setState('connecting', 'Connecting…');
    fitNow();
    let ticket;
    try {
      ticket = (await getJson(sandboxPath(id, '/terminal/ticket'), { method: 'POST' })).ticket;
    } catch (e) {
      setState('closed', `Could not open a terminal: ${e.message}`);
      return;
    }
    if (!term) return;  // the page was left meanwhile
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const q = `ticket=${encodeURIComponent(ticket)}&cols=${term.cols}&rows=${term.rows}`;
    const socket = new WebSocket(`${scheme}://${location.host}${sandboxPath(id, '/terminal')}?${q}`);
    socket.binaryType = 'arraybuffer';
    ws = socket;
    let exit = null;
    socket.onopen = () => {
      setState('open', 'Connected');
      term.focus();
    };
    socket.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) {
        term.write(new Uint8Array(m.data));
        return;
      }
      let msg = null;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.type === 'exit') exit = msg;
    };
    socket.onclose = (c) => {
      if (ws !== socket || !term) return;
      const why = exit ? `[exited ${exit.exit_code}${exit.reason === 'exited' ? '' : `: ${exit.reason}`}]`
                       : `[disconnected${c.code ? ` (${c.code})` : ''}]`;
      term.write(`\r\n${why}\r\n`);
      setState('closed', why);
    };
  };

  pageScope.listen(reconnect, 'click', () => {
    if (term) {
      term.reset();
      connect();
    }
  });

  return {
    show() {
      visible = true;
      if (!term) {
        create();
        connect();
      }
      fitNow();
      term.focus();
    },
    hide() {
      visible = false;
    },
    dispose() {
      visible = false;
      if (ws) ws.close(1000);
      ws = null;
      if (resizeObserver) resizeObserver.disconnect();
      if (term) term.dispose();
      term = null;
      if (unadopt) unadopt();
      box.replaceChildren();
      box.dataset.state = '';
      stateLabel.textContent = '';
      reconnect.hidden = true;
    },
  };
}

// One line of a task event: its type and the gist of its data.
function eventText(e) {
  const d = e.data && typeof e.data === 'object' ? e.data : {};
  switch (e.type) {
    case 'status': return `${d.phase || ''} ${d.agent || ''} ${d.model || ''}`.trim();
    case 'message': return d.text || '';
    case 'tool': return `${d.name} ${d.status}${d.input ? ` ${d.input.slice(0, 200)}` : ''}`;
    case 'usage': {
      const cost = d.cost_usd ? `, $${d.cost_usd}` : '';
      return `${d.input_tokens ?? 0} tokens in, ${d.output_tokens ?? 0} out${cost}`;
    }
    case 'error': return d.message || '';
    case 'done': {
      const reason = d.failure_reason ? ` (${d.failure_reason})` : '';
      return `${d.status}${reason}${d.final_message ? `: ${d.final_message}` : ''}`;
    }
    default: return typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
  }
}

function tasksTab(id, pageScope) {
  const list = $('task-list');
  const events = $('task-events');
  const title = $('task-title');
  let selected = null;  // task id
  let follow = null;    // Scope of the followed stream
  let loadList = async () => {};  // refreshes the list while the tab is shown

  const followTask = (taskId) => {
    if (follow) follow.dispose();
    follow = new Scope();
    const scope = follow;
    selected = taskId;
    for (const li of list.children) li.classList.toggle('active', li.dataset.taskId === taskId);
    title.textContent = `Task ${taskId}`;
    events.replaceChildren();
    let lastId = 0;
    let done = false;
    const run = async () => {
      // A stream can end early (sandboxd restarts): resume after the last event seen.
      for (let tries = 0; scope.alive && !done && tries < 5; ++tries) {
        const res = await api(sandboxPath(id, `/tasks/${encodeURIComponent(taskId)}/events`), {
          signal: scope.signal,
          headers: { Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': String(lastId) } : {}) },
        });
        await readSse(res, (e) => {
          lastId = Number(e.id) || lastId;
          if (e.type === 'done') {
            done = true;
            loadList().catch(report);
          }
          const atEnd = events.scrollTop + events.clientHeight >= events.scrollHeight - 8;
          events.append(el('li', { class: `event event-${e.type}`, 'data-type': e.type },
                           el('span', { class: 'event-type', text: e.type }), ' ',
                           el('span', { class: 'event-data', text: eventText(e) })));
          if (atEnd) events.scrollTop = events.scrollHeight;
        });
      }
    };
    run().catch(report);
  };

  const renderList = (tasks) => {
    list.replaceChildren(...tasks.map((t) => {
      const li = el('li', { 'data-task-id': t.id, 'data-status': t.status },
                    statusBadge(t.status), ' ', el('span', { text: `${t.agent} ${t.id}` }),
                    el('div', { class: 'hint', text: when(t.created_at) }));
      li.classList.toggle('active', t.id === selected);
      li.addEventListener('click', () => followTask(t.id));
      return li;
    }));
  };

  const form = $('task-form');
  const submit = async (e) => {
    e.preventDefault();
    const prompt = $('task-prompt').value.trim();
    if (!prompt) return;
    const body = { prompt, agent: $('task-agent').value };
    const model = $('task-model').value.trim();
    if (model) body.model = model;
    $('task-start').disabled = true;
    try {
      const task = await getJson(sandboxPath(id, '/tasks'), { method: 'POST', body });
      $('task-prompt').value = '';
      say(`Started task ${task.id}.`);
      followTask(task.id);
      await loadList();
    } catch (err) {
      report(err);
    } finally {
      $('task-start').disabled = false;
    }
  };
  pageScope.listen(form, 'submit', submit);

  return lazyTab((scope) => {
    loadList = async () => {
      const { tasks } = await getJson(sandboxPath(id, '/tasks'), { signal: scope.signal });
      if (!scope.alive) return;
      renderList(tasks);
      if (!selected && tasks.length) followTask(tasks[0].id);
    };
    scope.poll(LIST_EVERY_MS, () => loadList());
  }, {
    once: () => {
      list.replaceChildren();
      events.replaceChildren();
      title.textContent = 'Pick a task.';
    },
    disposeAll: () => {
      if (follow) follow.dispose();
    },
  });
}

function processesTab(id, pageScope) {
  const list = $('process-list');
  const out = $('process-output');
  const title = $('process-title');
  const signalButton = $('process-signal');
  let selected = null;  // the Process shown
  let tabScope = null;
  let outputScope = null;

  const showOutput = (p) => {
    if (outputScope) outputScope.dispose();
    outputScope = new Scope();
    const scope = outputScope;
    const changed = !selected || selected.id !== p.id;
    selected = p;
    if (changed) out.textContent = '';
    title.textContent = `${p.cmd.join(' ')} (${p.state}, pid ${p.pid ?? '?'})`;
    signalButton.hidden = p.state !== 'running';
    for (const li of list.children) li.classList.toggle('active', li.dataset.processId === p.id);
    // An ended process's output is final: read it once.
    scope.poll(LOG_EVERY_MS, async () => {
      const res = await api(sandboxPath(id, `/processes/${encodeURIComponent(p.id)}/output?tail=${LOG_TAIL}`),
                            { signal: scope.signal });
      setFollowing(out, await res.text());
      if (p.state !== 'running') scope.dispose();
    });
  };

  const describe = (p) => {
    if (p.state === 'running') return `running, pid ${p.pid ?? '?'}`;
    if (p.signal) return `${p.state}, signal ${p.signal}`;
    return p.exit_code === null || p.exit_code === undefined ? p.state
                                                             : `${p.state}, exit ${p.exit_code}`;
  };

  const renderList = (processes) => {
    list.replaceChildren(...processes.map((p) => {
      const li = el('li', { 'data-process-id': p.id, 'data-state': p.state },
                    el('code', { text: p.cmd.join(' ') }),
                    el('div', { class: 'hint', text: `${describe(p)} · ${when(p.started_at)}` }));
      li.classList.toggle('active', selected !== null && p.id === selected.id);
      li.addEventListener('click', () => showOutput(p));
      return li;
    }));
    if (selected) {
      const now = processes.find((p) => p.id === selected.id);
      if (now && now.state !== selected.state) showOutput(now);
    }
  };

  const sendTerm = async () => {
    if (!selected) return;
    signalButton.disabled = true;
    try {
      const p = await getJson(sandboxPath(id, `/processes/${encodeURIComponent(selected.id)}?signal=TERM`),
                              { method: 'DELETE' });
      showOutput(p);
    } catch (e) {
      report(e);
    } finally {
      signalButton.disabled = false;
    }
  };
  pageScope.listen(signalButton, 'click', sendTerm);

  return lazyTab((scope) => {
    tabScope = scope;
    scope.onDispose(() => {
      if (outputScope) outputScope.dispose();
      outputScope = null;
    });
    scope.poll(LIST_EVERY_MS, async () => {
      const { processes } = await getJson(sandboxPath(id, '/processes'), { signal: scope.signal });
      if (tabScope !== scope || !scope.alive) return;
      renderList(processes);
    });
    if (selected) showOutput(selected);
  }, {
    once: () => {
      list.replaceChildren();
      out.textContent = '';
      title.textContent = 'Pick a process.';
      signalButton.hidden = true;
    },
  });
}

function filesTab(id, pageScope) {
  const list = $('files-list');
  const content = $('file-content');
  const pathLabel = $('files-path');
  let dir = '';

  const join = (a, b) => (a ? `${a}/${b}` : b);
  const parent = (p) => p.split('/').slice(0, -1).join('/');
  const read = (path) => getJson(sandboxPath(id, `/files?path=${encodeURIComponent(path)}`));

  const openDir = async (path) => {
    const node = await read(path);
    if (node.type !== 'dir') return viewFile(node);
    dir = path;
    pathLabel.textContent = `~/${path}`;
    const items = [];
    if (path) items.push(el('li', { class: 'dir', 'data-name': '..', 'data-type': 'dir', text: '..' }));
    for (const e of node.entries) {
      items.push(el('li', { class: e.type, 'data-name': e.name, 'data-type': e.type },
                    el('span', { text: e.type === 'dir' ? `${e.name}/` : e.name }),
                    el('span', { class: 'hint', text: e.type === 'file' ? ` ${e.size} B` : '' })));
    }
    if (node.truncated) items.push(el('li', { class: 'hint', text: '(more entries not shown)' }));
    list.replaceChildren(...items);
    content.textContent = '';
    return undefined;
  };

  const viewFile = (node) => {
    content.textContent = node.encoding === 'base64'
      ? `(binary file, ${node.size} bytes; not shown)` : node.content;
    content.scrollTop = 0;
  };

  pageScope.listen(list, 'click', (e) => {
    const li = e.target.closest('li[data-name]');
    if (!li) return;
    const name = li.dataset.name;
    if (name === '..') openDir(parent(dir)).catch(report);
    else if (li.dataset.type === 'dir') openDir(join(dir, name)).catch(report);
    else if (li.dataset.type === 'file') read(join(dir, name)).then(viewFile).catch(report);
  });

  return lazyTab(() => {}, {
    once: () => {
      list.replaceChildren();
      content.textContent = '';
      openDir('').catch(report);
    },
  });
}

// ---------------------------------------------------------------------------------------

$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', () => logout());
window.addEventListener('hashchange', route);
route();
