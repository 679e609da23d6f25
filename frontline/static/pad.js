// The therapist's tablet workstation: today's queue of the department, and
// for the chosen patient the steps of the treatment in order — 叫号, the
// consent signed with a finger, 开始治疗 (the payment is re-checked with
// the HIS there), photos from the tablet camera, the record form of the
// project, 完成治疗 and 签名 as the signed-in clinician. Every refusal shows
// the rule that refused it. The queue follows the desk's calls: the
// waiting-room board (no identifying data) is polled every 1.5 s and the
// workstation reloaded when it changes.
'use strict';

(() => {
  const { api, el, empty, when, state } = front;
  const statusText = { waiting: '候诊', called: '已叫号', in_treatment: '治疗中', done: '已完成' };
  const maxImageBytes = 20 << 20;
  let ws = null, selected = null, intakeSel = '', shown = '', boardSig = '', busy = false;

  function refusal(e) { return e.message; } // Chinese; the rule code goes on the element (data-rule) for support

  // act runs one step once: the button stays disabled until the answer, so
  // a double tap sends one request.
  async function act(btn, msg, fn) {
    if (busy) return;
    busy = true; btn.disabled = true; msg.textContent = '处理中…'; msg.className = 'form-status';
    try {
      await fn();
      msg.textContent = '';
      await load();
    } catch (e) {
      msg.textContent = refusal(e); msg.className = 'form-status error'; msg.dataset.rule = e.rule || '';
      if (e.field) { // a record's field comes back as record_content.<key>: shown under that field
        const f = document.querySelector('[data-field="' + e.field + '"]') ||
          document.querySelector('[data-error-for="' + e.field.replace(/^record_content\./, '') + '"]');
        if (f) f.textContent = e.message;
      }
    } finally { busy = false; btn.disabled = false; }
  }

  function renderQueue() {
    const ol = document.getElementById('queue');
    document.getElementById('queue-count').textContent = '（' + ws.tickets.length + ' 个号）';
    if (!ws.tickets.length) { ol.replaceChildren(el('li', { class: 'empty' }, '今天还没有患者签到。')); return; }
    ol.replaceChildren(...ws.tickets.map(t => {
      const li = el('li', { class: 'pad-ticket' + (t.id === selected ? ' selected' : ''), 'data-ticket': t.id, 'data-status': t.status, tabIndex: 0 },
        el('b', {}, t.number), el('span', {}, t.patient_name), el('small', {}, t.project.name + ' · ' + (statusText[t.status] || t.status)));
      li.addEventListener('click', () => { selected = t.id; intakeSel = ''; renderQueue(); renderIntake(); renderDetail(); });
      return li;
    }));
  }

  // renderIntake lists the work before the queue: paid orders to merge into
  // an application, applications to assess and plan.
  function renderIntake() {
    const ol = document.getElementById('intake');
    const items = [...ws.orders.map(o => ({ key: 'o' + o.id, text: o.patient_name, sub: '医嘱 ' + o.project_name + ' ×' + o.quantity + ' · 待合并' })),
      ...ws.applications.map(a => ({ key: 'a' + a.id, text: a.patient_name, sub: '申请 ' + a.project_name + ' · ' + (a.status === 'submitted' ? '待评估' : '待制定疗程') }))];
    document.getElementById('intake-count').textContent = '（' + items.length + '）';
    if (!items.length) { ol.replaceChildren(el('li', { class: 'empty' }, '没有待处理的医嘱或申请。')); return; }
    ol.replaceChildren(...items.map(it => {
      const li = el('li', { class: 'pad-ticket intake' + (it.key === intakeSel ? ' selected' : ''), 'data-intake': it.key, tabIndex: 0 },
        el('b', {}, it.key[0] === 'o' ? '单' : '申'), el('span', {}, it.text), el('small', {}, it.sub));
      li.addEventListener('click', () => { intakeSel = it.key; selected = null; renderIntake(); renderQueue(); renderDetail(); });
      return li;
    }));
  }

  function intakeDetail(box) {
    const msg = el('p', { class: 'form-status', role: 'status', id: 'step-status' });
    if (intakeSel[0] === 'o') {
      const o = ws.orders.find(x => 'o' + x.id === intakeSel);
      if (!o) { intakeSel = ''; return false; }
      // The patient's other paid orders of the same project merge with it.
      const same = ws.orders.filter(x => x.patient_id === o.patient_id && x.project_id === o.project_id);
      const merge = el('button', { type: 'button', class: 'primary', id: 'merge-submit' }, '合并为治疗申请（' + same.length + ' 条医嘱）');
      merge.addEventListener('click', () => act(merge, msg, async () => {
        const app = await api('POST', '/api/v1/applications', { order_ids: same.map(x => x.id) });
        intakeSel = 'a' + app.id;
      }));
      box.replaceChildren(el('div', { class: 'card' }, el('p', { class: 'title' }, o.patient_name, el('small', { class: 'muted' }, ' ', o.mrn)),
        ...same.map(x => el('p', {}, x.order_no, ' · ', x.project_name, ' ×', x.quantity, ' · ', x.diagnosis_name || x.diagnosis_code))),
        el('div', { class: 'step' }, merge), msg);
      return true;
    }
    const a = ws.applications.find(x => 'a' + x.id === intakeSel);
    if (!a) { intakeSel = ''; return false; }
    const head = el('div', { class: 'card' }, el('p', { class: 'title' }, a.patient_name, ' · ', a.project_name),
      el('p', { class: 'muted' }, '申请次数 ', a.sessions, ' · 诊断 ', a.diagnosis_code));
    if (a.status === 'assessed') {
      const plan = el('button', { type: 'button', class: 'primary', id: 'plan-submit' }, '制定疗程');
      plan.addEventListener('click', () => act(plan, msg, async () => { await api('POST', '/api/v1/applications/' + a.id + '/course'); intakeSel = ''; }));
      box.replaceChildren(head, el('div', { class: 'step' }, el('p', { class: 'done' }, '初次评估已签名'), plan), msg);
      return true;
    }
    const form = el('form', { class: 'step', id: 'assessment-form', noValidate: true }, el('h3', {}, '初次评估'),
      el('label', { htmlFor: 'as-complaint' }, '主诉 ', el('span', { class: 'req' }, '*')), el('input', { id: 'as-complaint', name: 'complaint' }),
      el('p', { class: 'field-error', 'data-error-for': 'complaint' }),
      el('label', { htmlFor: 'as-findings' }, '评估所见 ', el('span', { class: 'req' }, '*')), el('input', { id: 'as-findings', name: 'findings' }),
      el('p', { class: 'field-error', 'data-error-for': 'findings' }),
      el('label', { htmlFor: 'as-score' }, '功能评分（0–100） ', el('span', { class: 'req' }, '*')), el('input', { id: 'as-score', name: 'score', type: 'number', min: 0, max: 100 }),
      el('p', { class: 'field-error', 'data-error-for': 'score' }),
      el('label', { htmlFor: 'as-conclusion' }, '评估结论'), el('select', { id: 'as-conclusion', name: 'conclusion' }, el('option', {}, '适合治疗'), el('option', {}, '需复评')));
    const sign = el('button', { type: 'submit', class: 'primary', id: 'assess-submit' }, '评估并签名');
    form.append(sign);
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      let missing = false;
      for (const k of ['complaint', 'findings', 'score']) {
        const v = form.elements[k].value.trim();
        form.querySelector('[data-error-for="' + k + '"]').textContent = v ? '' : '请填写';
        if (!v) missing = true;
      }
      if (missing) return;
      act(sign, msg, () => api('POST', '/api/v1/applications/' + a.id + '/assessments', { kind: 'initial', score: Number(form.elements.score.value), sign: true,
        answers: { complaint: form.elements.complaint.value.trim(), findings: form.elements.findings.value.trim(), conclusion: form.elements.conclusion.value } }));
    });
    box.replaceChildren(head, form, msg);
    return true;
  }

  // The consent step shows the text in force in full; the signature box and
  // the button unlock only once the signer has scrolled to its end, and the
  // signature names that revision (template_id), so it binds what was shown.
  function consentForm(t, msg) {
    const text = t.consent_text;
    if (!text) {
      return el('div', { class: 'step' }, el('h3', {}, '知情同意（' + t.project.name + '）'),
        el('p', { class: 'error', id: 'consent-missing' }, '该项目尚无知情同意书文本，不能签署。请联系科室主任在“知情同意书模板”中维护后再签。'));
    }
    const doc = el('div', { class: 'consent-text', id: 'consent-text', tabIndex: 0, role: 'document', ariaLabel: text.title },
      el('h4', {}, text.title), ...text.body.split('\n').map(line => line ? el('p', {}, line) : el('br')),
      el('p', { class: 'muted small' }, '第 ' + text.revision + ' 版 · SM3 ' + text.text_sm3.slice(0, 16) + '…'));
    const hint = el('p', { class: 'muted small', id: 'consent-hint' }, '请患者阅读全文，滑到底部后方可签名。');
    let read = false;
    const checkRead = () => {
      if (read || doc.scrollTop + doc.clientHeight < doc.scrollHeight - 4) return;
      read = true;
      canvas.classList.remove('locked'); sign.disabled = false;
      hint.textContent = '已阅读全文，请在下框内签名。';
    };
    doc.addEventListener('scroll', checkRead);
    const canvas = el('canvas', { id: 'consent-pad', width: 600, height: 220, class: 'signature locked' });
    const ctx = canvas.getContext('2d');
    ctx.lineWidth = 3; ctx.lineCap = 'round'; ctx.strokeStyle = '#111';
    let drawing = false, inked = false;
    const at = ev => { const r = canvas.getBoundingClientRect(); return [(ev.clientX - r.left) * canvas.width / r.width, (ev.clientY - r.top) * canvas.height / r.height]; };
    canvas.addEventListener('pointerdown', ev => {
      if (!read) { hint.textContent = '请先将知情同意书滑到底部读完。'; return; }
      drawing = true; ctx.beginPath(); ctx.moveTo(...at(ev));
      try { canvas.setPointerCapture(ev.pointerId); } catch (e) { /* a pointer the page cannot capture still draws */ }
    });
    canvas.addEventListener('pointermove', ev => { if (!drawing) return; ctx.lineTo(...at(ev)); ctx.stroke(); inked = true; });
    canvas.addEventListener('pointerup', () => { drawing = false; });
    const name = el('input', { id: 'signer-name', value: t.patient_name, required: true });
    const rel = el('select', { id: 'signer-relation' }, ...[['self', '本人'], ['spouse', '配偶'], ['parent', '父母'], ['child', '子女'], ['guardian', '监护人']].map(([v, l]) => el('option', { value: v }, l)));
    const clear = el('button', { type: 'button', class: 'secondary' }, '重写');
    clear.addEventListener('click', () => { ctx.clearRect(0, 0, canvas.width, canvas.height); inked = false; });
    const sign = el('button', { type: 'button', class: 'primary', id: 'consent-submit', disabled: true }, '签署知情同意');
    const fieldErr = el('p', { class: 'field-error', 'data-field': 'signature' });
    sign.addEventListener('click', () => {
      if (!read) { fieldErr.textContent = '请先读完知情同意书全文'; return; }
      if (!inked) { fieldErr.textContent = '请患者在框内签名'; return; }
      fieldErr.textContent = '';
      const png = canvas.toDataURL('image/png').split(',')[1];
      act(sign, msg, () => api('POST', '/api/v1/consents', { course_id: t.course_id, template_id: text.id, signer_name: name.value.trim(), signer_relation: rel.value, signature: png }));
    });
    const step = el('div', { class: 'step' }, el('h3', {}, '知情同意（' + t.project.name + '）'), doc, hint,
      el('label', { htmlFor: 'signer-name' }, '签署人 *'), name, el('p', { class: 'field-error', 'data-field': 'signer_name' }),
      el('label', { htmlFor: 'signer-relation' }, '与患者关系'), rel,
      el('p', { class: 'muted small' }, '请在下框内手写签名：'), canvas, fieldErr, el('div', { class: 'row' }, clear, sign));
    requestAnimationFrame(checkRead); // a text short enough to show whole needs no scrolling
    return step;
  }

  function recordForm(t, msg) {
    const key = 'record-' + t.session.id;
    const saved = JSON.parse(sessionStorage.getItem(key) || '{}');
    const form = el('form', { class: 'step record', id: 'record-form', noValidate: true }, el('h3', {}, '治疗记录'));
    const template = ws.templates[t.project.category] || [];
    for (const f of template) {
      const id = 'rf-' + f.key;
      let input;
      if (f.kind === 'choice') input = el('select', { id, name: f.key }, el('option', { value: '' }, '请选择'), ...f.options.map(o => el('option', { value: o }, o)));
      else input = el('input', { id, name: f.key, type: f.kind === 'number' ? 'number' : 'text', inputMode: f.kind === 'number' ? 'decimal' : undefined, step: 'any' });
      if (saved[f.key] !== undefined) input.value = saved[f.key];
      form.append(el('label', { htmlFor: id }, f.label, f.unit ? '（' + f.unit + '）' : '', f.required ? el('span', { class: 'req' }, ' *') : null), input,
        el('p', { class: 'field-error', 'data-error-for': f.key }));
    }
    form.append(el('label', { htmlFor: 'rf-units' }, '计费数量 *'), el('input', { id: 'rf-units', name: '_units', type: 'number', min: 1, value: saved._units || 1 }),
      el('p', { class: 'field-error', 'data-field': 'units' }),
      el('label', { htmlFor: 'rf-adverse' }, '不良反应（无则不填）'), el('input', { id: 'rf-adverse', name: '_adverse', value: saved._adverse || '' }));
    // What was typed survives a reload or a lost connection.
    form.addEventListener('input', () => {
      const v = {};
      for (const e of form.elements) if (e.name) v[e.name] = e.value;
      sessionStorage.setItem(key, JSON.stringify(v));
    });
    const done = el('button', { type: 'submit', class: 'primary', id: 'complete-submit' }, '完成治疗');
    form.append(done);
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const content = {};
      let missing = false;
      for (const f of template) {
        const v = form.elements[f.key].value.trim();
        const err = form.querySelector('[data-error-for="' + f.key + '"]');
        err.textContent = f.required && !v ? '请填写' + f.label : '';
        if (f.required && !v) missing = true;
        if (v) content[f.key] = f.kind === 'number' ? Number(v) : v;
      }
      if (missing) return;
      act(done, msg, async () => {
        await api('POST', '/api/v1/sessions/' + t.session.id + '/complete',
          { units: Number(form.elements._units.value), adverse_reaction: form.elements._adverse.value.trim(), record_content: JSON.stringify(content) });
        sessionStorage.removeItem(key);
      });
    });
    return form;
  }

  // recordView shows a record as the server renders it (labels, values,
  // units): the same lines the archive shows and the signature covers.
  function recordView(lines) {
    if (!lines || !lines.length) return empty('记录内容为空。');
    return el('dl', { class: 'record-view' }, ...lines.flatMap(l => [el('dt', {}, l.label), el('dd', { 'data-key': l.key }, l.value + (l.unit ? ' ' + l.unit : ''))]));
  }

  function photos(t, msg) {
    const input = el('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'photo-input' });
    const phase = el('select', { id: 'photo-phase' }, el('option', { value: 'before' }, '治疗前'), el('option', { value: 'after' }, '治疗后'));
    const up = el('button', { type: 'button', class: 'secondary', id: 'photo-submit' }, '上传照片');
    const err = el('p', { class: 'field-error', 'data-field': 'image' });
    up.addEventListener('click', () => {
      const file = input.files[0];
      if (!file) { err.textContent = '请先拍照或选择照片'; return; }
      if (!file.type.startsWith('image/')) { err.textContent = '只能上传图片（当前：' + (file.type || '未知类型') + '）'; return; }
      if (file.size > maxImageBytes) { err.textContent = '照片不能超过 20 MB（当前 ' + (file.size / 1048576).toFixed(1) + ' MB）'; return; }
      err.textContent = '';
      act(up, msg, async () => {
        const body = new FormData();
        body.append('phase', phase.value);
        body.append('image', file);
        const me = await front.me(); // the CSRF token, read once per page
        const resp = await fetch('/api/v1/sessions/' + t.session.id + '/images?phase=' + phase.value,
          { method: 'POST', body, credentials: 'same-origin', headers: { 'X-CSRF-Token': me.csrf_token } });
        if (!resp.ok) throw new front.ApiError(resp.status, await resp.json().catch(() => null));
      });
    });
    return el('div', { class: 'step' }, el('h3', {}, '治疗影像', el('small', { class: 'muted', id: 'photo-count' }, ' 已上传 ' + t.images + ' 张' + (t.project.needs_images ? '（本项目要求）' : ''))),
      el('div', { class: 'row' }, phase, input, up), err);
  }

  function renderDetail() {
    const box = document.getElementById('detail');
    if (intakeSel && intakeDetail(box)) return;
    const t = ws.tickets.find(x => x.id === selected);
    if (!t) { box.replaceChildren(empty('请在左侧选择患者。')); return; }
    const msg = el('p', { class: 'form-status', role: 'status', id: 'step-status' });
    const c = t.course;
    const parts = [el('div', { class: 'card' },
      el('p', { class: 'title' }, t.number + ' 号 · ' + t.patient_name),
      el('p', {}, t.project.name, ' · ', t.project.minutes + ' 分钟'),
      el('p', { class: 'muted', id: 'course-progress' }, '疗程进度：已完成 ' + c.done_sessions + ' 次 / 计划 ' + c.planned_sessions + ' 次'),
      t.project.precautions ? el('p', { class: 'muted small' }, '注意事项：' + t.project.precautions) : null)];
    const s = t.session;
    if (!s) {
      if (t.status === 'waiting') {
        const call = el('button', { type: 'button', class: 'primary', id: 'call-submit' }, '叫号');
        call.addEventListener('click', () => act(call, msg, () => api('POST', '/api/v1/queue/' + t.id + '/call')));
        parts.push(el('div', { class: 'step' }, call));
      }
      if (t.project.needs_consent && !t.consent_signed) parts.push(consentForm(t, msg));
      else {
        const room = el('select', { id: 'room' }, ...ws.rooms.map(r => el('option', { value: r.id }, r.name)));
        const start = el('button', { type: 'button', class: 'primary', id: 'start-submit' }, '开始治疗');
        start.addEventListener('click', () => act(start, msg, () => api('POST', '/api/v1/sessions', { ticket_id: t.id, room_id: Number(room.value) })));
        parts.push(el('div', { class: 'step' }, el('h3', {}, '开始治疗'), el('p', { class: 'muted small' }, '开始时向 HIS 再次确认缴费；未缴费或已退费将被拒绝。'),
          t.project.needs_images ? el('p', { class: 'notice', id: 'photo-rule' }, '本项目须拍摄治疗前、治疗后照片各至少一张，缺少照片不能完成治疗。') : null,
          t.project.needs_consent ? el('p', { class: 'done' }, '知情同意已签署') : null, el('label', { htmlFor: 'room' }, '治疗室'), room, start));
      }
    } else if (s.status === 'in_progress') {
      parts.push(photos(t, msg), recordForm(t, msg));
    } else if (t.record && t.record.status === 'draft') {
      const sign = el('button', { type: 'button', class: 'primary', id: 'sign-submit' }, '签名');
      sign.addEventListener('click', () => act(sign, msg, () => api('POST', '/api/v1/records/' + t.record.id + '/sign', {})));
      parts.push(el('div', { class: 'step' }, el('h3', {}, '治疗记录待签名'), el('p', { class: 'muted small' }, '请核对后签名：签名所覆盖的正是以下内容。'),
        recordView(t.record_lines), sign));
    } else if (t.record) {
      parts.push(el('p', { class: 'done', id: 'record-signed' }, '治疗记录已签名，' + when(t.record.signed_at)));
      if (t.survey_sent) parts.push(el('p', { class: 'muted', id: 'survey-sent' }, '满意度问卷已发送'));
      else {
        const send = el('button', { type: 'button', class: 'secondary', id: 'survey-submit' }, '发送满意度问卷到患者手机');
        send.addEventListener('click', () => act(send, msg, () => api('POST', '/api/v1/courses/' + t.course_id + '/surveys', { channel: 'electronic' })));
        parts.push(el('div', { class: 'step' }, send));
      }
    } else {
      parts.push(el('p', { class: 'muted' }, '本次治疗：' + s.status));
    }
    parts.push(archive(t), msg);
    box.replaceChildren(...parts);
  }

  // The patient's archive: every treatment record with whether its SM2
  // signature still holds (the server verifies it against the signer's
  // public key and the record as it is now).
  const signatureText = { valid: 'SM2 签名有效', altered: '签名后被修改', invalid: '签名无效', missing: '无数字签名', unsigned: '未签名' };
  function archive(t) {
    const out = el('div', { id: 'archive' });
    const open = el('button', { type: 'button', class: 'secondary', id: 'archive-open' }, '患者档案与签名核验');
    open.addEventListener('click', async () => {
      out.replaceChildren(el('p', { class: 'muted', role: 'status' }, '加载中…'));
      try {
        const ar = await api('GET', '/api/v1/patients/' + t.patient_id + '/archive');
        if (!ar.records || ar.records.length === 0) { out.replaceChildren(empty('该患者在本科室还没有治疗记录。')); return; }
        const rows = ar.records.map(r => {
          const st = (ar.signatures || {})[r.id] || 'unsigned';
          const lines = (ar.rendered || {})[r.id] || [];
          return el('tr', { 'data-record': r.id },
            el('td', {}, String(r.id)), el('td', {}, r.project_name), el('td', {}, when(r.treated_at)),
            el('td', { class: 'small' }, lines.map(l => l.label + '：' + l.value + (l.unit ? ' ' + l.unit : '')).join('；')),
            el('td', { class: 'sig sig-' + st }, signatureText[st] || st));
        });
        const consents = (ar.consents || []).map(c => el('details', { class: 'card', 'data-consent': c.consent.id },
          el('summary', {}, (c.template ? c.template.title + '（第 ' + c.template.revision + ' 版）' : '知情同意书（签署时未保存文本）') + ' · ' + c.consent.signer_name + ' · ' + when(c.consent.signed_at),
            c.template ? el('span', { class: c.intact ? 'sig sig-valid' : 'sig sig-altered' }, c.intact ? ' 文本与签署时一致' : ' 文本已被改动') : null),
          ...(c.template ? c.template.body.split('\n').map(line => line ? el('p', {}, line) : el('br')) : [])));
        out.replaceChildren(el('h3', {}, '治疗档案（' + ar.records.length + ' 份记录）'),
          el('table', { class: 'archive' }, el('thead', {}, el('tr', {}, el('th', {}, '记录号'), el('th', {}, '项目'), el('th', {}, '治疗时间'), el('th', {}, '记录内容'), el('th', {}, '签名核验'))),
            el('tbody', {}, ...rows)),
          consents.length ? el('h3', {}, '知情同意书') : null, ...consents, await sharedDocuments(t.patient_id));
      } catch (e) {
        out.replaceChildren(el('p', { class: 'form-status error', role: 'alert' }, '档案加载失败：' + refusal(e)));
      }
    });
    return el('div', { class: 'step' }, open, out);
  }

  // The patient's shared documents (WS/T 500 CDA, every version), each
  // opening as the browser renders it with the Chinese stylesheet.
  async function sharedDocuments(patientID) {
    const box = el('div', { id: 'documents' }, el('h3', {}, '共享文档'));
    try {
      const res = await api('GET', '/api/v1/documents?patient=' + patientID);
      const docs = res.items || [];
      if (docs.length === 0) { box.append(empty('该患者还没有共享文档：记录或知情同意书签名后数秒内生成。')); return box; }
      box.append(el('table', { class: 'archive' },
        el('thead', {}, el('tr', {}, el('th', {}, '文档'), el('th', {}, '版本'), el('th', {}, '签署时间'), el('th', {}, '文档编号'))),
        el('tbody', {}, ...docs.map(d => el('tr', { 'data-document': d.id },
          el('td', {}, el('a', { href: '/api/v1/documents/' + d.id + '/xml', target: '_blank', rel: 'noopener' }, d.kind_title)),
          el('td', {}, '第 ' + d.version + ' 版' + (d.replaced_by_id ? '（已被新版本替代）' : '')),
          el('td', {}, when(d.effective_at)), el('td', { class: 'small' }, d.doc_uid))))));
    } catch (e) {
      box.append(el('p', { class: 'form-status error', role: 'alert' }, '共享文档加载失败：' + refusal(e)));
    }
    return box;
  }

  async function load() {
    try {
      ws = await api('GET', '/api/v1/workstation');
    } catch (e) {
      if (e.status === 401) { location.href = '/dash/login?next=' + encodeURIComponent('/pad/'); return; }
      state('加载失败：' + refusal(e), 'error');
      return;
    }
    ws.tickets = ws.tickets || []; ws.rooms = ws.rooms || []; ws.orders = ws.orders || []; ws.applications = ws.applications || [];
    document.getElementById('pad-title').textContent = ws.dept_name + ' · 治疗工作站';
    document.getElementById('pad-today').textContent = ws.today;
    // Keep a form being typed in: redraw the detail only when what it shows changed.
    const sig = JSON.stringify(intakeSel ? [intakeSel, ws.orders.find(o => 'o' + o.id === intakeSel), ws.applications.find(a => 'a' + a.id === intakeSel)]
      : [selected, ws.tickets.find(x => x.id === selected)]);
    renderIntake();
    renderQueue();
    if (sig !== shown) renderDetail();
    shown = sig;
    state('');
    document.getElementById('content').hidden = false;
    document.body.dataset.ready = '1';
  }

  async function watch() {
    try {
      const b = await api('GET', '/api/v1/queue/board?dept=' + ws.dept_id);
      const sig = JSON.stringify([b.calling, b.waiting, b.done]);
      if (boardSig && sig !== boardSig && !busy) await load();
      boardSig = sig;
      state('');
    } catch (e) {
      state('网络不稳定，队列暂未更新，正在重试…', 'warn');
    }
  }

  load().then(() => { if (ws) setInterval(watch, 1500); });
})();
