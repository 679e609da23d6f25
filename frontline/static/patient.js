// The patient's phone page: today's place in the queue (polled), upcoming
// appointments with cancel, precautions, open surveys, complaints with the
// department's replies, and the message inbox. Everything comes from the
// API under the link's session, which answers only this patient's rows.
'use strict';

(() => {
  const { api, el, empty, when, clock, state } = front;
  const apptStatus = { booked: '已预约', checked_in: '已签到' };
  const ticketStatus = { waiting: '候诊中', called: '已叫号，请到治疗室', in_treatment: '治疗中', done: '已完成', left: '已离开' };
  const dims = [['overall', '总体满意度'], ['attitude', '服务态度'], ['skill', '技术水平'], ['waiting', '等候时间'], ['explanation', '解释说明'], ['environment', '就诊环境']];
  const noticeKind = { appointment: '预约', precautions: '注意事项', reminder: '提醒', change: '变更', followup: '随访' };
  const complaintStatus = { open: '处理中', replied: '已回复', closed: '已关闭' };
  let home = null;

  function renderTickets(tickets) {
    const box = document.getElementById('tickets');
    box.replaceChildren();
    if (!tickets.length) { box.append(empty('今天没有排队。到院签到后，这里会显示您的排队号和前面的人数。')); return; }
    for (const t of tickets) {
      const ahead = t.status === 'waiting'
        ? el('p', { class: 'ahead' }, '前面还有 ', el('b', { 'data-ahead': t.ahead }, t.ahead), ' 人')
        : el('p', { class: 'ahead ' + t.status }, ticketStatus[t.status] || t.status);
      box.append(el('div', { class: 'card ticket', 'data-ticket': t.id, 'data-status': t.status },
        el('div', { class: 'ticket-no' }, el('small', {}, t.dept_name), el('b', {}, t.number + ' 号')),
        ahead,
        el('p', { class: 'muted' }, '当前叫号：', t.calling ? t.calling + ' 号' : '尚未开始')));
    }
    document.getElementById('queue-updated').textContent = '更新于 ' + clock();
  }

  function renderAppointments() {
    const box = document.getElementById('appointments');
    box.replaceChildren();
    if (!home.appointments.length) { box.append(empty('暂无待进行的预约。')); return; }
    for (const a of home.appointments) {
      const card = el('div', { class: 'card', 'data-appointment': a.id },
        el('p', { class: 'title' }, home.projects[a.project_id] || '治疗', ' · ', home.departments[a.dept_id] || ''),
        el('p', {}, when(a.planned_at), ' · ', apptStatus[a.status] || a.status),
        el('p', { class: 'muted small' }, '预约号 ', a.receipt_no));
      if (a.status === 'booked') {
        const msg = el('p', { class: 'form-status', role: 'status' });
        const btn = el('button', { type: 'button', class: 'secondary', 'data-cancel': a.id }, '取消预约');
        btn.addEventListener('click', async () => {
          if (!confirm('确定取消 ' + when(a.planned_at) + ' 的预约吗？')) return;
          btn.disabled = true; msg.textContent = '正在取消…';
          try {
            await api('POST', '/api/v1/appointments/' + a.id + '/cancel', { reason: '患者手机端取消' });
            msg.textContent = '已取消。';
            await load();
          } catch (e) { msg.textContent = e.message; msg.className = 'form-status error'; btn.disabled = false; }
        });
        const move = el('button', { type: 'button', class: 'secondary', 'data-reschedule': a.id }, '改约');
        const panel = el('div', { class: 'reschedule', hidden: true });
        move.addEventListener('click', () => { panel.hidden = !panel.hidden; if (!panel.hidden) reschedulePanel(a, panel, msg); });
        card.append(el('div', { class: 'row' }, btn, move), panel, msg);
      }
      box.append(card);
    }
  }

  // reschedulePanel lists the open slots of the appointment's department
  // and project on a chosen day; tapping one moves the appointment there
  // (one transaction: the old place is kept if the new one is refused).
  function reschedulePanel(a, panel, msg) {
    const planned = new Date(a.planned_at).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }); // YYYY-MM-DD, China time
    const day = el('input', { type: 'date', min: home.today, value: planned < home.today ? home.today : planned });
    const list = el('div', { class: 'slot-list' });
    async function show() {
      list.replaceChildren(el('p', { class: 'muted small' }, '加载号源…'));
      try {
        const r = await api('GET', '/api/v1/slots?dept=' + a.dept_id + '&project=' + a.project_id + '&date=' + day.value);
        const open = (r.items || []).filter(s => s.status === 'open' && s.booked < s.capacity && s.id !== a.slot_id);
        if (!open.length) { list.replaceChildren(empty('当天没有可约的号源，请换一天。')); return; }
        list.replaceChildren(...open.map(s => {
          const b = el('button', { type: 'button', class: 'slot-choice', 'data-slot': s.id }, when(s.start_at), ' · 余 ', s.capacity - s.booked);
          b.addEventListener('click', async () => {
            if (!confirm('改约到 ' + when(s.start_at) + '？')) return;
            b.disabled = true; msg.textContent = '正在改约…'; msg.className = 'form-status';
            try {
              await api('POST', '/api/v1/appointments/' + a.id + '/reschedule', { slot_id: s.id });
              await load();
            } catch (e) { msg.textContent = e.message; msg.dataset.rule = e.rule || ''; msg.className = 'form-status error'; b.disabled = false; }
          });
          return b;
        }));
      } catch (e) { list.replaceChildren(el('p', { class: 'form-status error' }, e.message)); }
    }
    day.addEventListener('change', show);
    panel.replaceChildren(el('label', {}, '改约日期'), day, list);
    show();
  }

  function renderPrecautions() {
    const box = document.getElementById('precautions');
    box.replaceChildren();
    if (!home.precautions.length) { box.append(empty('暂无注意事项。')); return; }
    for (const n of home.precautions) box.append(el('div', { class: 'card' }, el('p', {}, n.content), el('p', { class: 'muted small' }, when(n.queued_at))));
  }

  // The consent texts of the projects booked, to read at home before the
  // treatment: the same revision the tablet will show for the signature.
  function renderConsents() {
    const box = document.getElementById('consents');
    const texts = Object.values(home.consent_texts || {});
    document.getElementById('consent-section').hidden = !texts.length;
    box.replaceChildren(...texts.map(t => el('details', { class: 'card consent-card', 'data-consent-text': t.project_id },
      el('summary', {}, t.title, el('span', { class: 'muted small' }, '（第 ' + t.revision + ' 版）')),
      ...t.body.split('\n').map(line => line ? el('p', {}, line) : el('br')))));
  }

  function renderSurveys() {
    const box = document.getElementById('surveys');
    box.replaceChildren();
    if (!home.surveys.length) { box.append(empty('暂无待填写的问卷。')); return; }
    for (const sv of home.surveys) {
      const form = el('form', { class: 'card survey', 'data-survey': sv.id, noValidate: true },
        el('p', { class: 'title' }, (home.projects[sv.project_id] || '治疗'), ' · ', home.departments[sv.dept_id] || ''));
      for (const [key, label] of dims) {
        const row = el('fieldset', { class: 'stars' }, el('legend', {}, label));
        for (let v = 5; v >= 1; v--) {
          row.append(el('label', {}, el('input', { type: 'radio', name: key, value: v, required: true }), v + ' 分'));
        }
        row.append(el('p', { class: 'field-error', 'data-error-for': key }));
        form.append(row);
      }
      form.append(el('label', { htmlFor: 'comment-' + sv.id }, '意见（可不填）'),
        el('textarea', { id: 'comment-' + sv.id, name: 'comment', rows: 2, maxLength: 1000 }));
      const msg = el('p', { class: 'form-status', role: 'status' });
      const btn = el('button', { type: 'submit', class: 'primary' }, '提交问卷');
      form.append(btn, msg);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const scores = {};
        let missing = false;
        for (const [key, label] of dims) {
          const c = form.querySelector('input[name="' + key + '"]:checked');
          form.querySelector('[data-error-for="' + key + '"]').textContent = c ? '' : '请为「' + label + '」打分';
          if (c) scores[key] = Number(c.value); else missing = true;
        }
        if (missing) return;
        btn.disabled = true; msg.textContent = '正在提交…'; msg.className = 'form-status';
        try {
          await api('POST', '/api/v1/patient/surveys/' + sv.id, { scores, comment: form.comment.value });
          form.replaceChildren(el('p', { class: 'done' }, '感谢您的评价！'));
        } catch (e) { msg.textContent = e.message; msg.className = 'form-status error'; btn.disabled = false; }
      });
      box.append(form);
    }
  }

  function renderComplaints() {
    const select = document.getElementById('complaint-dept');
    const current = select.value;
    // The departments treating the patient now or in the last 90 days (the server decides which).
    select.replaceChildren(...(home.complaint_depts || []).map((id) => el('option', { value: id }, home.departments[id] || ('科室 ' + id))));
    if (current) select.value = current;
    document.getElementById('complaint-form').hidden = !select.options.length;
    const box = document.getElementById('complaints');
    box.replaceChildren();
    for (const c of home.complaints) {
      box.append(el('div', { class: 'card', 'data-complaint': c.id },
        el('p', { class: 'muted small' }, when(c.received_at), ' · ', home.departments[c.dept_id] || '', ' · ', complaintStatus[c.status] || c.status),
        el('p', {}, c.content),
        c.reply ? el('p', { class: 'reply' }, '科室回复：', c.reply) : null));
    }
  }

  function renderNotices() {
    const box = document.getElementById('notices');
    box.replaceChildren();
    if (!home.notices.length) { box.append(empty('暂无消息。')); return; }
    for (const n of home.notices) {
      box.append(el('div', { class: 'card notice-item' + (n.critical ? ' critical' : ''), 'data-notice': n.id },
        el('p', { class: 'muted small' }, n.critical ? '重要 · ' : '', noticeKind[n.kind] || n.kind, ' · ', when(n.queued_at)),
        el('p', {}, n.content)));
    }
  }

  // renderPrefs shows each notice level with a switch; the important level
  // is always on. A change is saved at once.
  async function renderPrefs() {
    const box = document.getElementById('prefs'), msg = document.getElementById('prefs-status');
    let prefs;
    try { prefs = (await api('GET', '/api/v1/patient/notice-preferences')).items || []; } catch (e) { box.replaceChildren(el('p', { class: 'form-status error' }, e.message)); return; }
    box.replaceChildren(...prefs.map(p => {
      const input = el('input', { type: 'checkbox', checked: !p.opted_out, disabled: p.mandatory, 'data-level': p.level });
      input.addEventListener('change', async () => {
        input.disabled = true; msg.textContent = '正在保存…'; msg.className = 'form-status';
        try {
          await api('PUT', '/api/v1/patient/notice-preferences', { level: p.level, opted_out: !input.checked });
          msg.textContent = input.checked ? '已恢复接收「' + p.label + '」' : '已退订「' + p.label + '」，消息列表中仍可查看';
        } catch (e) { input.checked = !input.checked; msg.textContent = e.message; msg.className = 'form-status error'; }
        input.disabled = false;
      });
      return el('label', { class: 'pref' }, input, ' ', p.label, p.mandatory ? el('small', { class: 'muted' }, '（不可退订）') : null);
    }));
  }

  async function load() {
    try {
      home = await api('GET', '/api/v1/patient/home');
    } catch (e) {
      state(e.status === 401 ? '链接已失效，请联系治疗室前台重新发送。' : '加载失败：' + e.message, 'error');
      document.getElementById('content').hidden = true;
      return false;
    }
    // Empty lists may arrive as null.
    for (const k of ['appointments', 'precautions', 'surveys', 'tickets', 'complaints', 'notices']) home[k] = home[k] || [];
    for (const k of ['departments', 'projects']) home[k] = home[k] || {};
    document.getElementById('today').textContent = home.today;
    renderTickets(home.tickets); renderAppointments(); renderPrecautions(); renderConsents(); renderSurveys(); renderComplaints(); renderNotices();
    state('');
    document.getElementById('content').hidden = false;
    document.body.dataset.ready = '1';
    return true;
  }

  async function poll() {
    try {
      const r = await api('GET', '/api/v1/patient/queue');
      renderTickets(r.items || []);
      state('');
    } catch (e) {
      state(e.status === 401 ? '链接已失效，请联系治疗室前台重新发送。' : '网络不稳定，排队信息暂未更新，正在重试…', 'warn');
    }
  }

  document.getElementById('complaint-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target, btn = document.getElementById('complaint-submit'), msg = document.getElementById('complaint-status');
    const err = form.querySelector('[data-error-for="content"]');
    const content = form.content.value.trim();
    err.textContent = content ? '' : '请填写内容';
    if (!content) return;
    btn.disabled = true; msg.textContent = '正在提交…'; msg.className = 'form-status';
    try {
      await api('POST', '/api/v1/complaints', { dept_id: Number(form.dept_id.value), category: form.category.value, content });
      form.content.value = ''; sessionStorage.removeItem('complaint');
      msg.textContent = '已提交，科室会尽快回复。';
      await load();
    } catch (e) {
      if (e.field === 'content') err.textContent = e.message; else { msg.textContent = e.message; msg.className = 'form-status error'; }
    } finally { btn.disabled = false; }
  });
  // What was typed survives a reload or a lost connection.
  const content = document.getElementById('complaint-content');
  content.value = sessionStorage.getItem('complaint') || '';
  content.addEventListener('input', () => sessionStorage.setItem('complaint', content.value));

  load().then(ok => { if (ok) { renderPrefs(); setInterval(poll, 5000); } });
})();
