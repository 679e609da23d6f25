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
      super(e.message || ('请求失败（' + status + '）'));
      this.status = status; this.code = e.code || ''; this.rule = e.rule || ''; this.field = e.field || '';
    }
  }
  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    if (method !== 'GET') {
      headers['X-CSRF-Token'] = await token();
      headers['Content-Type'] = 'application/json';
    }
    let resp;
    try {
      resp = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, { error: { code: 'network', message: '网络连接中断，请检查网络后重试。' } });
    }
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
