// Lockstep's chat page: plain ES module, no build step. Talks to the server's OpenAI API on the same
// origin. What it shows beyond a chat: every reply's seed and the command that reproduces it, a replay
// that checks the same request gives the same token ids and logprobs bit for bit, and each token's
// probability with its alternatives.
import { marked } from '/webjars/marked/15.0.7/lib/marked.esm.js';

const $ = (id) => document.getElementById(id);
const STORE = 'lockstep.conversations', CURRENT = 'lockstep.current', KEY = 'lockstep.apiKey';
const TOP = 5; // alternatives kept per token

// Model output is data: raw HTML in it is shown as text, never run (the server also sends a strict CSP).
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
marked.use({ renderer: { html: (token) => escapeHtml(token.text ?? token.raw ?? '') } });

let conversations = JSON.parse(localStorage.getItem(STORE) || '[]');
let current = localStorage.getItem(CURRENT);
let controller = null; // the reply being streamed, to stop it
let fingerprint = '';

function save() {
  localStorage.setItem(STORE, JSON.stringify(conversations));
  if (current) localStorage.setItem(CURRENT, current);
}

function conversation() {
  let c = conversations.find((x) => x.id === current);
  if (!c) {
    c = { id: 'c' + Date.now() + Math.random().toString(36).slice(2, 6), title: 'New chat', messages: [] };
    conversations.unshift(c);
    current = c.id;
    save();
  }
  return c;
}

// ------------------------------------------------------------------ the API

async function api(path, body, signal) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { 'Content-Type': 'application/json' };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = 'Bearer ' + key;
    const r = await fetch(path, body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body), signal });
    if (r.status === 401 && attempt === 0) {
      const k = window.prompt('This server needs an API key:');
      if (!k) return r;
      sessionStorage.setItem(KEY, k);
      continue;
    }
    return r;
  }
}

/** Streams a chat completion; onChunk gets each parsed chunk. Resolves when the stream ends. */
async function streamChat(body, signal, onChunk) {
  const r = await api('/v1/chat/completions', body, signal);
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.error) throw new Error(chunk.error.message);
        onChunk(chunk);
      }
    }
  }
}

/** What a streamed reply adds up to. */
function collector() {
  return { content: '', reasoning: '', logprobs: [], tokenIds: [], promptIds: null, toolCalls: [], finish: null, usage: null };
}

function absorb(acc, chunk) {
  if (chunk.system_fingerprint) fingerprint = chunk.system_fingerprint;
  if (chunk.prompt_token_ids) acc.promptIds = chunk.prompt_token_ids;
  if (chunk.usage) acc.usage = chunk.usage;
  for (const c of chunk.choices || []) {
    const d = c.delta || {};
    if (d.content) acc.content += d.content;
    if (d.reasoning_content) acc.reasoning += d.reasoning_content;
    for (const tc of d.tool_calls || []) {
      const t = acc.toolCalls[tc.index] || (acc.toolCalls[tc.index] = { id: '', name: '', arguments: '' });
      if (tc.id) t.id = tc.id;
      if (tc.function?.name) t.name = tc.function.name;
      if (tc.function?.arguments) t.arguments += tc.function.arguments;
    }
    if (c.logprobs?.content) acc.logprobs.push(...c.logprobs.content);
    if (c.token_ids) acc.tokenIds.push(...c.token_ids);
    if (c.finish_reason) acc.finish = c.finish_reason;
  }
}

// ------------------------------------------------------------------ settings and the request

function settings() {
  const num = (id) => ($(id).value === '' ? null : Number($(id).value));
  return { system: $('system').value, temperature: num('temperature'), top_p: num('top_p'), top_k: num('top_k'),
    max_tokens: num('max_tokens'), seed: num('seed'), schema: $('schema').value.trim(), tools: $('tools').value.trim(),
    toolChoice: $('tool_choice').value };
}

function requestBody(history) {
  const s = settings();
  const messages = [];
  if (s.system) messages.push({ role: 'system', content: s.system });
  for (const m of history) {
    if (m.role === 'user') messages.push({ role: 'user', content: m.content });
    else if (m.toolCalls?.length) messages.push({ role: 'assistant', content: m.content || null,
      tool_calls: m.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) });
    else messages.push({ role: 'assistant', content: m.content });
  }
  const body = { model: $('model').value, messages, stream: true, stream_options: { include_usage: true },
    logprobs: true, top_logprobs: TOP, return_token_ids: true,
    seed: s.seed ?? Math.floor(Math.random() * 2 ** 31) };
  for (const k of ['temperature', 'top_p', 'top_k', 'max_tokens']) if (s[k] !== null) body[k] = s[k];
  if (s.schema) body.response_format = { type: 'json_schema', json_schema: { name: 'schema', schema: JSON.parse(s.schema) } };
  if (s.tools) {
    body.tools = JSON.parse(s.tools);
    body.tool_choice = s.toolChoice;
  }
  return body;
}

// ------------------------------------------------------------------ sending, stopping, replaying

async function send(history) {
  const conv = conversation();
  let body;
  try {
    body = requestBody(history);
  } catch (e) {
    showError('Settings: ' + e.message);
    return;
  }
  const reply = { role: 'assistant', content: '', request: body, seed: body.seed, stats: null, pending: true };
  conv.messages = [...history, reply];
  render();
  const node = $('messages').lastElementChild;
  controller = new AbortController();
  $('stop').hidden = false;
  $('send').disabled = true;
  const acc = collector();
  const t0 = performance.now();
  let first = 0;
  try {
    await streamChat(body, controller.signal, (chunk) => {
      absorb(acc, chunk);
      if (!first && (acc.content || acc.reasoning || acc.tokenIds.length)) first = performance.now();
      Object.assign(reply, { content: acc.content, reasoning: acc.reasoning, toolCalls: acc.toolCalls });
      paint(node, reply, false);
    });
  } catch (e) {
    if (e.name !== 'AbortError') reply.error = e.message;
  }
  const t1 = performance.now();
  const n = acc.usage?.completion_tokens ?? acc.tokenIds.length;
  Object.assign(reply, { content: acc.content, reasoning: acc.reasoning, toolCalls: acc.toolCalls, logprobs: acc.logprobs,
    tokenIds: acc.tokenIds, promptIds: acc.promptIds, finish: controller.signal.aborted ? 'stopped' : acc.finish,
    stats: { ttft: first ? first - t0 : null, tps: first && n > 1 ? (n - 1) / ((t1 - first) / 1000) : null, tokens: n } });
  delete reply.pending;
  controller = null;
  $('stop').hidden = true;
  $('send').disabled = false;
  if (conv.title === 'New chat' && history.length) conv.title = history[0].content.slice(0, 40);
  save();
  render();
}

/** The same request again: identical when the token ids and every logprob (and its alternatives) are the same. */
async function replay(reply, node) {
  const out = node.querySelector('.replay-result');
  out.textContent = 'replaying…';
  out.className = 'replay-result';
  const acc = collector();
  try {
    await streamChat(reply.request, undefined, (chunk) => absorb(acc, chunk));
  } catch (e) {
    out.textContent = 'replay failed: ' + e.message;
    return;
  }
  const key = (ids, lps, text) => JSON.stringify({ ids, text, lps: lps.map((l) => [l.token, l.logprob, l.bytes, l.top_logprobs]) });
  const same = key(acc.tokenIds, acc.logprobs, acc.content) === key(reply.tokenIds, reply.logprobs || [], reply.content);
  let at = 0;
  while (!same && at < acc.tokenIds.length && acc.tokenIds[at] === reply.tokenIds[at]) at++;
  out.textContent = same ? `identical: ${acc.tokenIds.length} token ids and their logprobs, bit for bit`
    : `differs from token ${at}`;
  out.className = 'replay-result ' + (same ? 'same' : 'differs');
}

function command(reply) {
  const r = reply.request;
  if (!reply.promptIds) return 'the prompt token ids were not returned';
  return `lockstep generate --model ${r.model}.gguf --prompt-ids ${reply.promptIds.join(',')} --seed ${r.seed}`
    + ` --temperature ${r.temperature ?? 1} --top-p ${r.top_p ?? 1} --top-k ${r.top_k ?? 0} --min-p 0`
    + ` -n ${r.max_tokens ?? 256} --no-echo`
    + (r.response_format ? ` --json-schema '${JSON.stringify(r.response_format.json_schema.schema)}'` : '');
}

// ------------------------------------------------------------------ rendering

function render() {
  const list = $('conversations');
  list.replaceChildren();
  for (const c of conversations) {
    const li = document.createElement('li');
    li.className = c.id === current ? 'active' : '';
    const name = document.createElement('span');
    name.textContent = c.title;
    li.append(name);
    const del = document.createElement('button');
    del.className = 'delete';
    del.textContent = '×';
    del.title = 'delete';
    del.onclick = (e) => {
      e.stopPropagation();
      conversations = conversations.filter((x) => x.id !== c.id);
      if (current === c.id) current = conversations[0]?.id ?? null;
      save();
      render();
    };
    li.append(del);
    li.onclick = () => { current = c.id; save(); render(); };
    list.append(li);
  }
  const box = $('messages');
  box.replaceChildren();
  const conv = conversations.find((x) => x.id === current);
  for (const m of conv?.messages ?? []) {
    const node = document.createElement('div');
    node.className = 'msg ' + m.role;
    box.append(node);
    paint(node, m, !m.pending);
  }
  box.scrollTop = box.scrollHeight;
  $('fingerprint').textContent = fingerprint ? 'fingerprint ' + fingerprint : '';
}

function paint(node, m, done) {
  node.replaceChildren();
  if (m.reasoning) {
    const t = document.createElement('details');
    t.open = !done;
    t.innerHTML = '<summary>thinking</summary>';
    const body = document.createElement('div');
    body.className = 'thinking';
    body.textContent = m.reasoning;
    t.append(body);
    node.append(t);
  }
  const body = document.createElement('div');
  body.className = 'body';
  if (m.role === 'assistant') body.innerHTML = marked.parse(m.content || '');
  else body.textContent = m.content;
  node.append(body);
  for (const t of m.toolCalls || []) {
    if (!t) continue;
    const card = document.createElement('div');
    card.className = 'tool-call';
    card.textContent = `🔧 ${t.name}(${t.arguments})`;
    node.append(card);
  }
  if (m.error) {
    const e = document.createElement('div');
    e.className = 'error';
    e.textContent = m.error;
    node.append(e);
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  node.append(meta);
  const conv = conversation();
  const index = conv.messages.indexOf(m);
  if (m.role === 'user') {
    button(meta, 'Edit', () => { $('input').value = m.content; conv.messages = conv.messages.slice(0, index); save(); render(); $('input').focus(); });
    return;
  }
  if (!done) return;
  const s = m.stats || {};
  meta.append(text(`seed ${m.seed}`), text(`${s.tokens ?? 0} tokens`));
  if (s.ttft !== null && s.ttft !== undefined) meta.append(text(`first token ${Math.round(s.ttft)} ms`));
  if (s.tps) meta.append(text(`${s.tps.toFixed(1)} tok/s`));
  if (m.finish) meta.append(text(m.finish));
  button(meta, 'Replay', () => replay(m, node));
  const result = document.createElement('span');
  result.className = 'replay-result';
  meta.append(result);
  button(meta, 'Regenerate', () => {
    const history = conv.messages.slice(0, index);
    send(history);
  });
  button(meta, 'Tokens', () => toggleTokens(node, m));
  button(meta, 'CLI', () => {
    let c = node.querySelector('.command');
    if (c) { c.remove(); return; }
    c = document.createElement('div');
    c.className = 'command';
    c.textContent = command(m);
    node.append(c);
  });
}

function toggleTokens(node, m) {
  const body = node.querySelector('.body');
  if (body.classList.toggle('tokens')) {
    body.replaceChildren();
    (m.logprobs || []).forEach((lp, i) => {
      const span = document.createElement('span');
      span.className = 'tok';
      span.dataset.index = i;
      span.textContent = lp.token;
      const p = Math.exp(lp.logprob);
      span.style.background = `hsl(${Math.round(p * 120)}, 70%, 85%)`;
      span.title = `p = ${p.toFixed(4)}`;
      span.onclick = (e) => alternatives(e, lp);
      body.append(span);
    });
  } else {
    body.innerHTML = marked.parse(m.content || '');
  }
}

function alternatives(event, lp) {
  const pop = $('popover');
  const table = document.createElement('table');
  for (const alt of lp.top_logprobs || []) {
    const tr = document.createElement('tr');
    const tok = document.createElement('td');
    tok.textContent = JSON.stringify(alt.token);
    const prob = document.createElement('td');
    prob.textContent = (100 * Math.exp(alt.logprob)).toFixed(2) + '%';
    tr.append(tok, prob);
    if (alt.token === lp.token) tr.style.fontWeight = 'bold';
    table.append(tr);
  }
  pop.replaceChildren(table);
  pop.style.left = event.clientX + 8 + 'px';
  pop.style.top = event.clientY + 8 + 'px';
  pop.hidden = false;
  event.stopPropagation();
}

function button(parent, label, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.onclick = onclick;
  parent.append(b);
}

function text(s) {
  const span = document.createElement('span');
  span.textContent = s;
  return span;
}

function showError(msg) {
  const e = document.createElement('div');
  e.className = 'msg error';
  e.textContent = msg;
  $('messages').append(e);
}

// ------------------------------------------------------------------ start

async function start() {
  document.addEventListener('click', () => { $('popover').hidden = true; });
  $('new-chat').onclick = () => { current = null; conversation(); render(); };
  $('stop').onclick = () => controller?.abort();
  $('composer').onsubmit = (e) => {
    e.preventDefault();
    const text = $('input').value.trim();
    if (!text || controller) return;
    $('input').value = '';
    send([...conversation().messages, { role: 'user', content: text }]);
  };
  $('input').onkeydown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); }
  };
  const r = await api('/v1/models');
  if (r.ok) {
    const models = (await r.json()).data;
    for (const m of models) {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.id;
      $('model').append(o);
    }
    const info = () => {
      const m = models.find((x) => x.id === $('model').value);
      $('model-info').textContent = m?.max_model_len ? `context ${m.max_model_len} tokens` : (m?.loaded ? '' : 'loads on first use');
    };
    $('model').onchange = info;
    info();
  } else {
    showError('cannot list models: ' + r.status);
  }
  render();
}

start();
