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
      const link = el('button', { type: 'button', 'data-link': a.patient_id }, '患者手机链接');
      link.addEventListener('click', async () => {
        // No reload: the link stays on screen for the patient to scan or copy.
        const out = document.getElementById('link-status');
        link.disabled = true;
        try {
          const r = await api('POST', '/api/v1/patients/' + a.patient_id + '/link');
          out.className = 'form-status link-out';
          out.textContent = a.patient_name + ' 的手机链接（有效至 ' + when(r.expires_at) + '）：' + location.origin + r.url;
        } catch (e) { out.className = 'form-status error'; out.textContent = refusal(e); }
        link.disabled = false;
      });
      buttons.append(link);
      row.append(buttons);
      return row;
    }));
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

  function showReceipt(a, c, s) {
    const dept = desk.departments.find(d => d.id === desk.dept_id);
    const r = document.getElementById('receipt');
    r.replaceChildren(el('h2', {}, '治疗预约回执'),
      el('p', {}, '预约号：', el('b', { id: 'receipt-no' }, a.receipt_no)),
      el('p', {}, '患者：', c.patient_name, '（', c.mrn, '）'),
      el('p', {}, '科室：', dept ? dept.name : '', ' · 项目：', desk.projects[c.project_id] || ''),
      el('p', {}, '时间：', when(s.start_at), '–', hm.format(new Date(s.end_at)), ' · ', desk.rooms[s.room_id] || ''),
      el('p', { class: 'muted small' }, '请提前 10 分钟到前台签到；如需取消请提前联系。'),
      el('div', { class: 'row no-print' },
        el('button', { type: 'button', class: 'primary', id: 'receipt-print', onclick: () => window.print() }, '打印回执'),
        el('button', { type: 'button', id: 'receipt-close', onclick: () => { r.hidden = true; } }, '关闭')));
    r.hidden = false;
    document.getElementById('book-status').textContent = '已预约 ' + c.patient_name + '，预约号 ' + a.receipt_no;
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
    for (const k of ['projects', 'staff', 'rooms']) desk[k] = desk[k] || {};
    const dept = document.getElementById('dept');
    dept.replaceChildren(...desk.departments.map(d => el('option', { value: d.id }, d.name)));
    dept.value = desk.dept_id;
    document.getElementById('day').value = desk.day;
    document.getElementById('board-link').href = '/queue/board?dept=' + desk.dept_id;
    renderAppointments(); renderCourses(); renderQueue();
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

  // An exact lookup by phone or national ID number: the core keeps both
  // sealed and finds them through a blind index, so only a whole number
  // finds anyone. A patient found narrows the course list to their MRN.
  document.getElementById('lookup').addEventListener('submit', async ev => {
    ev.preventDefault();
    const field = document.getElementById('lookup-field').value;
    const value = document.getElementById('lookup-value').value.trim();
    const out = document.getElementById('lookup-status');
    const btn = document.getElementById('lookup-submit');
    if (!value) { out.className = 'form-status error'; out.textContent = '请输入完整的' + (field === 'phone' ? '手机号' : '身份证号'); return; }
    btn.disabled = true; out.className = 'form-status'; out.textContent = '查找中…';
    try {
      const r = await api('GET', '/api/v1/patients?' + new URLSearchParams({ [field]: value }));
      const found = r.items || [];
      if (!found.length) { out.textContent = '未找到该' + (field === 'phone' ? '手机号' : '身份证号') + '的患者（须完整、准确）'; return; }
      const p = found[0];
      const filter = document.getElementById('course-filter');
      filter.value = p.mrn;
      renderCourses();
      const here = desk.courses.some(c => c.mrn === p.mrn);
      out.textContent = '找到 ' + found.map(x => x.name + '（' + x.mrn + '）').join('、') + (here ? '' : '；该患者在本科室没有可预约的疗程');
      out.dataset.found = p.mrn;
    } catch (e) {
      out.className = 'form-status error'; out.textContent = refusal(e);
    } finally { btn.disabled = false; }
  });
  document.getElementById('walkin-submit').addEventListener('click', ev => {
    const c = selectedCourse();
    const msg = document.getElementById('queue-status');
    if (!c) { msg.textContent = '请先在预约登记中选择患者的疗程'; msg.className = 'form-status error'; return; }
    act(ev.target, msg, () => api('POST', '/api/v1/queue/walkins', { course_id: c.id }));
  });
  load();
})();
