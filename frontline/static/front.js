// Shared by the front-line pages: calls to the API with the session cookie
// (writes carry the session's CSRF token from /api/v1/me), and small DOM
// helpers. No framework: each page is a few live lists and one or two forms.
'use strict';

const front = (() => {
  let who = null;
  // me is the signed-in account (/api/v1/me), read once.
  async function me() {
    if (who === null) who = await api('GET', '/api/v1/me');
    return who;
  }
  async function token() { return (await me()).csrf_token || ''; }
  // ApiError carries the API's machine-readable code, rule and field.
  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      // People read the Chinese: the API's English gloss in brackets at the
      // end is for logs and integrators, and stays in .detail with the rule.
      super((e.message || '').replace(/\s*\((?=[^()]*[A-Za-z])[^()]*\)\s*$/, '') || ('请求失败（' + status + '）'));
      this.status = status; this.code = e.code || ''; this.rule = e.rule || ''; this.field = e.field || ''; this.detail = e.message || '';
    }
  }
  // A write whose answer never arrived (the connection dropped) may have
  // committed. Sent again, the same request carries the same
  // Idempotency-Key, kept in sessionStorage until an answer arrives, so the
  // server answers it from the first and writes nothing twice; a request
  // made again on purpose after an answer gets a new key.
  function signature(s) { // FNV-1a, two lanes: a name for the request, not a proof (the server compares the body)
    let a = 0x811c9dc5, b = 0x01000193;
    for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); a = Math.imul(a ^ c, 16777619) >>> 0; b = Math.imul(b ^ c, 2246822519) >>> 0; }
    return a.toString(16) + b.toString(16);
  }
  function pendingKeys() { try { return JSON.parse(sessionStorage.getItem('zhiliao-pending-writes') || '{}'); } catch (e) { return {}; } }
  function keyFor(sig) {
    const all = pendingKeys();
    if (!all[sig]) {
      const r = new Uint8Array(16); crypto.getRandomValues(r); // crypto.randomUUID needs HTTPS; this does not
      all[sig] = Array.from(r, x => x.toString(16).padStart(2, '0')).join('');
      sessionStorage.setItem('zhiliao-pending-writes', JSON.stringify(all));
    }
    return all[sig];
  }
  function answered(sig) {
    const all = pendingKeys();
    if (all[sig]) { delete all[sig]; sessionStorage.setItem('zhiliao-pending-writes', JSON.stringify(all)); }
  }
  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let sig = '';
    if (method !== 'GET') {
      headers['X-CSRF-Token'] = await token();
      headers['Content-Type'] = 'application/json';
      sig = signature(method + ' ' + path + ' ' + (payload || ''));
      headers['Idempotency-Key'] = keyFor(sig);
    }
    let resp;
    try {
      resp = await fetch(path, { method, headers, credentials: 'same-origin', body: payload });
    } catch (err) {
      throw new ApiError(0, { error: { code: 'network', message: '网络连接中断，请检查网络后重试（重新提交不会重复保存）。' } });
    }
    if (sig && resp.status < 500) answered(sig); // a 5xx may come after the commit: keep the key
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v; else if (k.startsWith('data-')) e.setAttribute(k, v); else e[k] = v;
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function empty(text) { return el('p', { class: 'empty' }, text); }
  const timeFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
  const clockFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  function when(iso) { return iso ? timeFmt.format(new Date(iso)) : '—'; }
  function clock(d) { return clockFmt.format(d || new Date()); }
  function state(text, kind) {
    const s = document.getElementById('state');
    s.textContent = text; s.className = 'state ' + (kind || ''); s.hidden = !text;
  }
  return { api, el, empty, when, clock, state, me, ApiError };
})();
