// The front desk: a department's day — the appointments with 签到, 爽约 and
// the patient's phone link; booking a course into a slot of the calendar,
// with a receipt to print; the queue with 叫号 and walk-ins. Every step is
// an API call under the desk's session; every refusal shows its rule.
'use strict';

(() => {
  const { api, el, empty, when, state } = front;
  const apptStatus = { booked: '已预约', checked_in: '已签到', completed: '已完成', cancelled: '已取消', no_show: '爽约' };
  const ticketStatus = { waiting: '候诊', called: '已叫号', in_treatment: '治疗中', done: '已完成', left: '已离开' };
  const hm = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false });
  const q = new URLSearchParams(location.search);
  let desk = null, busy = false;

  function refusal(e) { return e.message; } // Chinese; the rule code goes on the element (data-rule) for support

  async function act(btn, msg, fn) {
    if (busy) return;
    busy = true; btn.disabled = true; msg.textContent = '处理中…'; msg.className = 'form-status';
    try {
      const r = await fn();
      msg.textContent = '';
      await load();
      return r;
    } catch (e) {
      msg.textContent = refusal(e); msg.className = 'form-status error'; msg.dataset.rule = e.rule || '';
    } finally { busy = false; btn.disabled = false; }
  }

  function selectedCourse() {
    const id = Number(document.getElementById('course').value);
    return desk.courses.find(c => c.id === id) || null;
  }

  function renderAppointments() {
    const box = document.getElementById('appointments');
    document.getElementById('appt-count').textContent = '（' + desk.appointments.length + '）';
    if (!desk.appointments.length) { box.replaceChildren(empty('当日没有预约。')); return; }
    const msg = el('p', { class: 'form-status', role: 'status', id: 'appt-status' });
    const isToday = desk.day === desk.today;
    box.replaceChildren(msg, ...desk.appointments.map(a => {
      const row = el('div', { class: 'card desk-appt', 'data-appointment': a.id, 'data-status': a.status },
        el('p', { class: 'title' }, hm.format(new Date(a.planned_at)), ' · ', a.patient_name, el('small', { class: 'muted' }, ' ', a.mrn)),
        el('p', { class: 'muted small' }, desk.projects[a.project_id] || '', ' · ', apptStatus[a.status] || a.status, ' · 预约号 ', a.receipt_no));
      const buttons = el('div', { class: 'row' });
      if (a.status === 'booked' && isToday) {
        const ci = el('button', { type: 'button', class: 'primary', 'data-checkin': a.id }, '签到');
        ci.addEventListener('click', () => act(ci, msg, () => api('POST', '/api/v1/appointments/' + a.id + '/checkin')));
        const ns = el('button', { type: 'button', class: 'secondary', 'data-noshow': a.id }, '爽约');
        ns.addEventListener('click', () => { if (confirm('登记 ' + a.patient_name + ' 爽约？')) act(ns, msg, () => api('POST', '/api/v1/appointments/' + a.id + '/no-show')); });
        buttons.append(ci, ns);
      }
      if (a.status === 'booked' && new Date(a.planned_at).getTime() > new Date(desk.now).getTime()) {
        buttons.append(...changeButtons(a, a.patient_name, msg));
      }
      buttons.append(linkButton(a.patient_id, a.patient_name));
      row.append(buttons);
      return row;
    }));
  }

  const fullDay = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });

  // A patient's phone link, shown on the screen to copy and as a QR code to
  // scan (drawn by the server from this service's own link only).
  // Two asks at once (the receipt's QR code and the link button) share one
  // request: the same write sent twice at once carries the same
  // Idempotency-Key, and the second would be refused while the first runs.
  const linksInFlight = {};
  async function patientLink(patientID) {
    if (!linksInFlight[patientID]) {
      linksInFlight[patientID] = api('POST', '/api/v1/patients/' + patientID + '/link').finally(() => { delete linksInFlight[patientID]; });
    }
    const r = await linksInFlight[patientID];
    const url = location.origin + r.url;
    return { url, expires: r.expires_at, qr: '/api/v1/qr?' + new URLSearchParams({ url }) };
  }

  function linkButton(patientID, name) {
    const link = el('button', { type: 'button', 'data-link': patientID }, '患者手机链接');
    link.addEventListener('click', async () => {
      // No reload: the link stays on screen for the patient to scan or copy.
      const out = document.getElementById('link-status');
      link.disabled = true;
      try {
        const l = await patientLink(patientID);
        out.className = 'form-status link-out';
        out.replaceChildren(el('span', {}, name + ' 的手机链接（有效至 ' + when(l.expires) + '，请患者用手机扫码）：' + l.url),
          el('img', { class: 'qr', id: 'link-qr', src: l.qr, alt: '患者手机链接二维码', width: 160, height: 160 }));
      } catch (e) { out.className = 'form-status error'; out.textContent = refusal(e); }
      link.disabled = false;
    });
    return link;
  }

  // changeButtons are 改约 and 取消 for a booking still to come, for a
  // caller on the phone: a cancel needs its reason; a move picks a day and
  // a free slot of the same project, and prints the new receipt.
  function changeButtons(a, name, msg) {
    const cancel = el('button', { type: 'button', class: 'secondary', 'data-cancel': a.id }, '取消');
    cancel.addEventListener('click', () => {
      const box = cancel.closest('.card') || cancel.parentElement;
      const reason = el('select', { 'data-cancel-reason': a.id }, ...['患者来电取消', '患者时间冲突', '病情变化', '其他'].map(r => el('option', {}, r)));
      const other = el('input', { placeholder: '其他原因（必填）', maxLength: 200, hidden: true, 'data-cancel-other': a.id });
      reason.addEventListener('change', () => { other.hidden = reason.value !== '其他'; });
      const ok = el('button', { type: 'button', class: 'primary', 'data-cancel-confirm': a.id }, '确认取消');
      ok.addEventListener('click', () => {
        const why = reason.value === '其他' ? other.value.trim() : reason.value;
        if (!why) { msg.className = 'form-status error'; msg.textContent = '请填写取消原因'; return; }
        act(ok, msg, () => api('POST', '/api/v1/appointments/' + a.id + '/cancel', { reason: why })).then(r => {
          if (r) { msg.className = 'form-status'; msg.textContent = '已取消 ' + name + ' ' + fullDay.format(new Date(a.planned_at)) + ' 的预约（' + why + '）'; }
        });
      });
      box.append(el('div', { class: 'row change-form' }, el('label', {}, '取消原因'), reason, other, ok));
    });
    const move = el('button', { type: 'button', class: 'secondary', 'data-move': a.id }, '改约');
    move.addEventListener('click', () => {
      const box = move.closest('.card') || move.parentElement;
      const day = el('input', { type: 'date', value: desk.today, min: desk.today, 'data-move-day': a.id });
      const slots = el('div', { class: 'slots', 'data-move-slots': a.id });
      const show = async () => {
        slots.replaceChildren(el('p', { class: 'muted' }, '加载号源…'));
        try {
          const r = await api('GET', '/api/v1/slots?' + new URLSearchParams({ dept: a.dept_id, project: a.project_id, date: day.value }));
          const now = new Date(desk.now).getTime();
          const free = (r.items || []).filter(s => s.status === 'open' && s.capacity > s.booked && new Date(s.start_at).getTime() > now && s.id !== a.slot_id);
          if (!free.length) { slots.replaceChildren(empty('该日没有可改约的号源，请换一天。')); return; }
          slots.replaceChildren(...free.map(s => {
            const b = el('button', { type: 'button', class: 'slot', 'data-move-to': s.id },
              el('b', {}, hm.format(new Date(s.start_at)), '–', hm.format(new Date(s.end_at))), el('span', {}, desk.staff[s.staff_id] || '', ' · ', desk.rooms[s.room_id] || ''),
              el('span', {}, '余 ', s.capacity - s.booked, '/', s.capacity));
            b.addEventListener('click', async () => {
              const moved = await act(b, msg, () => api('POST', '/api/v1/appointments/' + a.id + '/reschedule', { slot_id: s.id }));
              if (moved) showReceipt(moved, { patient_name: name, mrn: a.mrn || '', project_id: a.project_id, patient_id: a.patient_id }, s);
            });
            return b;
          }));
        } catch (e) { slots.replaceChildren(el('p', { class: 'form-status error' }, refusal(e))); }
      };
      day.addEventListener('change', show);
      box.append(el('div', { class: 'change-form' }, el('label', {}, '改约到 '), day, slots));
      show();
    });
    return [move, cancel];
  }

  // The desk's search: what a caller says (a name, an MRN, the last four
  // digits of a phone, a whole phone or ID number) finds the department's
  // patients with their bookings to come, to cancel or move, and their
  // courses, to book.
  async function search(ev) {
    ev.preventDefault();
    const q = document.getElementById('search-q').value.trim();
    const out = document.getElementById('search-status');
    const box = document.getElementById('search-results');
    const btn = document.getElementById('search-submit');
    if (!q) { out.className = 'form-status error'; out.textContent = '请输入姓名、病案号、手机号后 4 位或完整手机号、身份证号'; return; }
    btn.disabled = true; out.className = 'form-status'; out.textContent = '查找中…';
    try {
      const r = await api('GET', '/api/v1/desk/patients?' + new URLSearchParams({ dept: desk.dept_id, q }));
      const found = r.items || [];
      out.textContent = found.length ? '找到 ' + found.length + ' 位患者' + (found.length === 20 ? '（仅显示前 20 位，请输入更完整的信息）' : '') : '本科室没有符合“' + q + '”的患者';
      out.dataset.found = found.map(f => f.patient.mrn).join(',');
      const msg = el('p', { class: 'form-status', role: 'status', id: 'search-action-status' });
      box.replaceChildren(msg, ...found.map(f => {
        const p = f.patient;
        const tail = (p.phone || '').slice(-4);
        const card = el('div', { class: 'card', 'data-patient': p.id },
          el('p', { class: 'title' }, p.name, el('small', { class: 'muted' }, ' ', p.mrn, tail ? ' · 手机尾号 ' + tail : '')));
        for (const a of f.appointments || []) {
          a.mrn = p.mrn;
          const row = el('div', { class: 'row', 'data-future': a.id },
            el('span', {}, fullDay.format(new Date(a.planned_at)), ' · ', desk.projects[a.project_id] || '', ' · ', apptStatus[a.status] || a.status, ' · ', a.receipt_no));
          if (a.status === 'booked' && new Date(a.planned_at).getTime() > new Date(desk.now).getTime()) row.append(...changeButtons(a, p.name, msg));
          card.append(row);
        }
        if (!(f.appointments || []).length) card.append(el('p', { class: 'muted small' }, '本科室今后没有预约。'));
        const pick = el('button', { type: 'button', 'data-pick': p.mrn }, '为其预约');
        pick.addEventListener('click', () => { document.getElementById('course-filter').value = p.mrn; renderCourses(); });
        const docs = el('button', { type: 'button', class: 'secondary', 'data-documents': p.id }, '共享文档');
        const docList = el('div', { class: 'small', 'data-document-list': p.id });
        docs.addEventListener('click', async () => {
          docs.disabled = true;
          docList.replaceChildren(el('span', { class: 'muted' }, '加载中…'));
          try {
            const res = await api('GET', '/api/v1/documents?patient=' + p.id);
            const items = res.items || [];
            docList.replaceChildren(...(items.length ? items.map(d => el('div', {},
              el('a', { href: '/api/v1/documents/' + d.id + '/xml', target: '_blank', rel: 'noopener' }, d.kind_title + ' 第 ' + d.version + ' 版'),
              ' · ', fullDay.format(new Date(d.effective_at)), d.replaced_by_id ? '（已被新版本替代）' : '')) : [el('span', { class: 'muted' }, '还没有共享文档：记录或知情同意书签名后生成。')]));
          } catch (e) {
            docList.replaceChildren(el('span', { class: 'form-status error' }, '共享文档加载失败：' + refusal(e)));
          } finally { docs.disabled = false; }
        });
        card.append(el('div', { class: 'row' }, (f.courses || []).length ? pick : el('span', { class: 'muted small' }, '没有在治疗程'), linkButton(p.id, p.name), docs), docList);
        return card;
      }));
    } catch (e) {
      out.className = 'form-status error'; out.textContent = refusal(e);
    } finally { btn.disabled = false; }
  }

  function renderCourses() {
    const sel = document.getElementById('course');
    const keep = sel.value;
    const f = document.getElementById('course-filter').value.trim();
    const list = desk.courses.filter(c => !f || c.patient_name.includes(f) || c.mrn.includes(f));
    sel.replaceChildren(...list.map(c => el('option', { value: c.id },
      c.patient_name + '（' + c.mrn + '）' + (desk.projects[c.project_id] || '') + ' 已做 ' + c.done_sessions + '/' + c.planned_sessions + (c.booked ? '，已约 ' + c.booked : ''))));
    if (keep) sel.value = keep;
    renderCourseInfo();
  }

  function renderCourseInfo() {
    const c = selectedCourse();
    document.getElementById('course-info').textContent = c ? '已选：' + c.patient_name + ' · ' + (desk.projects[c.project_id] || '') : (desk.courses.length ? '请选择患者的疗程' : '本科室没有待预约的疗程');
    renderSlots();
  }

  // renderStops offers the department manager 停诊 for each open roster of
  // the day: its booked patients are cancelled and sent a change notice.
  function renderStops(role) {
    const box = document.getElementById('stops');
    const rosters = [...new Map(desk.slots.filter(s => s.status === 'open').map(s => [s.roster_id, s])).values()];
    if (role !== 'dept_manager' || !rosters.length) { box.replaceChildren(); return; }
    const msg = el('p', { class: 'form-status', role: 'status' });
    box.replaceChildren(...rosters.map(s => {
      const b = el('button', { type: 'button', class: 'secondary', 'data-stop': s.roster_id }, '停诊：', desk.staff[s.staff_id] || '', ' ', hm.format(new Date(s.start_at)), ' 起');
      b.addEventListener('click', () => {
        const reason = prompt('停诊原因（将通知已预约的患者）：', '设备故障');
        if (!reason) return;
        act(b, msg, () => api('POST', '/api/v1/rosters/' + s.roster_id + '/stop', { reason }));
      });
      return b;
    }), msg);
  }

  function renderSlots() {
    const box = document.getElementById('slots');
    const c = selectedCourse();
    const msg = document.getElementById('book-status');
    if (!desk.slots.length) { box.replaceChildren(empty('当日没有排班号源。')); return; }
    const now = new Date(desk.now).getTime(); // the service's clock, not the browser's
    box.replaceChildren(...desk.slots.map(s => {
      const free = s.capacity - s.booked;
      const fits = !s.project_id || (c && s.project_id === c.project_id);
      const usable = s.status === 'open' && free > 0 && new Date(s.start_at).getTime() > now && c && fits;
      const b = el('button', { type: 'button', class: 'slot' + (usable ? '' : ' off'), disabled: !usable, 'data-slot': s.id, 'data-free': free },
        el('b', {}, hm.format(new Date(s.start_at)), '–', hm.format(new Date(s.end_at))),
        el('span', {}, desk.staff[s.staff_id] || '', ' · ', desk.rooms[s.room_id] || ''),
        el('span', {}, s.project_id ? (desk.projects[s.project_id] || '专用') : '通用', ' · 余 ', free, '/', s.capacity));
      b.addEventListener('click', async () => {
        const cc = selectedCourse();
        if (!cc) return;
        const appt = await act(b, msg, () => api('POST', '/api/v1/appointments', { course_id: cc.id, slot_id: s.id, channel: 'onsite' }));
        if (appt) showReceipt(appt, cc, s);
      });
      return b;
    }));
  }

  // The receipt the patient takes home: the hospital, the date with its
  // year and weekday, the room and therapist, the project's precautions and
  // a QR code of the patient's phone page.
  function showReceipt(a, c, s) {
    const dept = desk.departments.find(d => d.id === desk.dept_id);
    const r = document.getElementById('receipt');
    const precautions = desk.precautions[c.project_id];
    const qr = el('div', { class: 'receipt-qr', id: 'receipt-qr' }, el('p', { class: 'muted small' }, '正在生成二维码…'));
    r.replaceChildren(el('p', { class: 'receipt-hospital', id: 'receipt-hospital' }, desk.institution || ''),
      el('h2', {}, '治疗预约回执'),
      el('p', {}, '预约号：', el('b', { id: 'receipt-no' }, a.receipt_no)),
      el('p', {}, '患者：', c.patient_name, c.mrn ? '（' + c.mrn + '）' : ''),
      el('p', {}, '科室：', dept ? dept.name : '', ' · 项目：', desk.projects[c.project_id] || ''),
      el('p', { id: 'receipt-time' }, '时间：', fullDay.format(new Date(s.start_at)), '–', hm.format(new Date(s.end_at))),
      el('p', { id: 'receipt-place' }, '治疗室：', desk.rooms[s.room_id] || '—', ' · 治疗师：', desk.staff[s.staff_id] || '—'),
      precautions ? el('p', { id: 'receipt-precautions' }, '注意事项：', precautions) : null,
      el('p', { class: 'muted small' }, '请提前 10 分钟到前台签到；如需取消或改约请至少提前 2 小时联系科室。'),
      qr,
      el('div', { class: 'row no-print' },
        el('button', { type: 'button', class: 'primary', id: 'receipt-print', onclick: () => window.print() }, '打印回执'),
        el('button', { type: 'button', id: 'receipt-close', onclick: () => { r.hidden = true; } }, '关闭')));
    r.hidden = false;
    document.getElementById('book-status').textContent = '已预约 ' + c.patient_name + '，预约号 ' + a.receipt_no;
    const patientID = c.patient_id || a.patient_id;
    patientLink(patientID).then(l => qr.replaceChildren(el('img', { src: l.qr, alt: '患者手机链接二维码', width: 120, height: 120 }),
      el('p', { class: 'small' }, '扫码查看预约、注意事项与排队'))).catch(e => qr.replaceChildren(el('p', { class: 'muted small' }, '二维码未生成：' + refusal(e))));
  }

  function renderQueue() {
    const ol = document.getElementById('queue');
    document.getElementById('queue-count').textContent = '（' + desk.queue.length + '）';
    const msg = document.getElementById('queue-status');
    if (!desk.queue.length) { ol.replaceChildren(el('li', { class: 'empty' }, '队列为空。')); return; }
    ol.replaceChildren(...desk.queue.map(t => {
      const li = el('li', { 'data-ticket': t.id, 'data-status': t.status }, el('b', {}, t.number), el('span', {}, t.patient_name + (t.walk_in ? '（现场）' : '')),
        el('small', {}, desk.projects[t.project_id] || '', ' · ', ticketStatus[t.status] || t.status));
      if (t.status === 'waiting') {
        const call = el('button', { type: 'button', class: 'primary', 'data-call': t.id }, '叫号');
        call.addEventListener('click', () => act(call, msg, () => api('POST', '/api/v1/queue/' + t.id + '/call')));
        li.append(call);
      }
      return li;
    }));
  }

  // The waiting-room screens' links: made here once, typed into the
  // screen's browser, revoked when a screen is lost or replaced.
  async function renderDisplays() {
    const box = document.getElementById('displays');
    const msg = document.getElementById('display-status');
    try {
      const r = await api('GET', '/api/v1/displays?dept=' + desk.dept_id);
      const live = (r.items || []).filter(d => !d.revoked_at);
      box.replaceChildren(...(live.length ? live.map(d => {
        const revoke = el('button', { type: 'button', class: 'secondary', 'data-revoke-display': d.id }, '撤销');
        revoke.addEventListener('click', () => { if (confirm('撤销“' + d.label + '”？该屏幕将在数秒内停止显示。')) act(revoke, msg, () => api('POST', '/api/v1/displays/' + d.id + '/revoke')); });
        return el('li', { 'data-display': d.id }, d.label, el('small', { class: 'muted' }, ' 生成于 ' + when(d.created_at) + ' '), revoke);
      }) : [el('li', { class: 'muted small' }, '还没有大屏链接。')]));
    } catch (e) { box.replaceChildren(el('li', { class: 'form-status error' }, refusal(e))); }
  }

  async function load() {
    const params = new URLSearchParams();
    if (q.get('dept')) params.set('dept', q.get('dept'));
    if (q.get('date')) params.set('date', q.get('date'));
    try {
      desk = await api('GET', '/api/v1/desk?' + params);
    } catch (e) {
      if (e.status === 401) { location.href = '/dash/login?next=' + encodeURIComponent(location.pathname + location.search); return; }
      state('加载失败：' + refusal(e), 'error');
      return;
    }
    for (const k of ['departments', 'appointments', 'queue', 'slots', 'courses']) desk[k] = desk[k] || [];
    for (const k of ['projects', 'staff', 'rooms', 'precautions']) desk[k] = desk[k] || {};
    const dept = document.getElementById('dept');
    dept.replaceChildren(...desk.departments.map(d => el('option', { value: d.id }, d.name)));
    dept.value = desk.dept_id;
    document.getElementById('day').value = desk.day;
    document.getElementById('board-link').href = '/queue/board?dept=' + desk.dept_id;
    renderAppointments(); renderCourses(); renderQueue(); renderDisplays();
    renderStops((await front.me()).role);
    state('');
    document.getElementById('content').hidden = false;
    document.body.dataset.ready = '1';
  }

  function go(key, value) {
    q.set(key, value);
    history.replaceState(null, '', location.pathname + '?' + q);
    load();
  }
  document.getElementById('dept').addEventListener('change', ev => go('dept', ev.target.value));
  document.getElementById('day').addEventListener('change', ev => { if (ev.target.value) go('date', ev.target.value); });
  document.getElementById('course').addEventListener('change', renderCourseInfo);
  document.getElementById('course-filter').addEventListener('input', renderCourses);

  document.getElementById('search').addEventListener('submit', search);
  document.getElementById('display-make').addEventListener('click', async ev => {
    const msg = document.getElementById('display-status');
    const made = await act(ev.target, msg, () => api('POST', '/api/v1/displays', { dept_id: desk.dept_id }));
    if (made) {
      msg.className = 'form-status link-out';
      msg.replaceChildren('已生成（只显示这一次，请在大屏浏览器中打开）：', el('a', { href: made.url, target: '_blank', rel: 'noopener noreferrer', id: 'display-url' }, location.origin + made.url));
    }
  });
  document.getElementById('walkin-submit').addEventListener('click', ev => {
    const c = selectedCourse();
    const msg = document.getElementById('queue-status');
    if (!c) { msg.textContent = '请先在预约登记中选择患者的疗程'; msg.className = 'form-status error'; return; }
    act(ev.target, msg, () => api('POST', '/api/v1/queue/walkins', { course_id: c.id }));
  });
  load();
})();
