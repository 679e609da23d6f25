// tools.js draws the working pages of the analysts' site that are not
// dashboards: 报表中心 (the report catalogue, exports with their progress,
// and the history of scheduled runs) and 知情同意书 (a department's consent
// texts, edited with a preview, in revisions). It reads and writes only
// through the API with the session cookie; writes carry the session's CSRF
// token from /api/v1/me, and the API decides role and department scope.
(function () {
  'use strict';
  var status = document.getElementById('status');
  var root = document.getElementById('tool');
  var csrf = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'class') e.className = v;
      else if (k.indexOf('data-') === 0 || k.indexOf('aria-') === 0 || k === 'for' || k === 'role') e.setAttribute(k, v);
      else e[k] = v;
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      (Array.isArray(c) ? c : [c]).forEach(function (x) {
        if (x !== null && x !== undefined && x !== false) e.append(x instanceof Node ? x : String(x));
      });
    }
    return e;
  }
  function setStatus(msg, kind) { status.textContent = msg; status.className = 'status' + (kind ? ' ' + kind : ''); }

  // api: JSON with the cookie; a lost session goes back to the login page.
  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    var ready = Promise.resolve();
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      ready = csrf !== null ? Promise.resolve() : fetch('/api/v1/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); }).then(function (me) { csrf = me.csrf_token || ''; });
    }
    return ready.then(function () {
      if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
      return fetch(path, { method: method, headers: headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    }).then(function (r) {
      if (r.status === 401) {
        location.href = '/dash/login?next=' + encodeURIComponent(location.pathname + location.search);
        throw new Error('登录已失效，请重新登录');
      }
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) {
          // People read the Chinese; the English gloss in brackets stays in the API.
          var e = new Error(((b.error && b.error.message) || '').replace(/\s*\((?=[^()]*[A-Za-z])[^()]*\)\s*$/, '') || ('请求失败 HTTP ' + r.status));
          e.status = r.status; e.field = b.error && b.error.field; e.rule = b.error && b.error.rule;
          throw e;
        }
        return b;
      });
    });
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function day(d) { return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }
  var timeFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
  function when(iso) { return iso ? timeFmt.format(new Date(iso)) : '—'; }
  function size(n) { return n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB'; }
  function picker(input) {
    if (window.flatpickr) flatpickr(input, { locale: flatpickr.l10ns.zh, dateFormat: 'Y-m-d', allowInput: true, disableMobile: true });
  }

  // --- 报表中心 -------------------------------------------------------------

  var statusText = { queued: '排队中', running: '生成中', done: '已完成', failed: '失败', cancelled: '已取消' };

  function reportsPage() {
    return Promise.all([api('GET', '/api/v1/reports'), api('GET', '/api/v1/dimensions'), api('GET', '/api/v1/calendar')]).then(function (res) {
      var catalogue = res[0].items.concat([{ id: 'evidence-pack', title: '评级证据包', about: '两项评级的证据工作簿、PDF、看板截图、评级规则与 sha256 清单（zip）', evidence: true }]);
      var depts = res[1].departments || [];
      // The default period: the last whole month before the server's today.
      var today = new Date(Date.UTC(+res[2].today.slice(0, 4), +res[2].today.slice(5, 7) - 1, 1));
      var from = new Date(today); from.setUTCMonth(from.getUTCMonth() - 1);
      var to = new Date(today); to.setUTCDate(0);

      var list = el('div', { class: 'catalogue', role: 'radiogroup', 'aria-label': '报表目录' }, catalogue.map(function (r, i) {
        return el('label', { class: 'report-choice', 'data-report': r.id },
          el('input', { type: 'radio', name: 'report', value: r.id, checked: i === 0 }),
          el('strong', {}, r.title), r.evidence ? el('span', { class: 'tag' }, '评级') : null, el('span', { class: 'muted small' }, r.about));
      }));
      var fromIn = el('input', { id: 'rep-from', class: 'day', value: day(from), inputMode: 'numeric', autocomplete: 'off' });
      var toIn = el('input', { id: 'rep-to', class: 'day', value: day(to), inputMode: 'numeric', autocomplete: 'off' });
      var deptSel = el('select', { id: 'rep-dept', multiple: true, size: Math.min(6, Math.max(2, depts.length)) },
        depts.map(function (d) { return el('option', { value: d.id, selected: true }, d.name); }));
      var format = el('select', { id: 'rep-format' }, el('option', { value: 'xlsx' }, 'Excel 工作簿'), el('option', { value: 'pdf' }, 'PDF（A4 横向）'));
      var go = el('button', { type: 'button', class: 'primary', id: 'rep-start' }, '生成报表');
      var err = el('p', { class: 'status error', id: 'rep-error', role: 'alert' });
      var jobsBox = el('div', { id: 'rep-jobs' });
      list.addEventListener('change', function () {
        var pack = list.querySelector('input:checked').value === 'evidence-pack';
        format.disabled = pack; // the pack is one zip
      });
      go.addEventListener('click', function () {
        var rep = list.querySelector('input:checked').value;
        var chosen = Array.prototype.filter.call(deptSel.options, function (o) { return o.selected; }).map(function (o) { return Number(o.value); });
        err.textContent = '';
        if (!/^\d{4}-\d{2}-\d{2}$/.test(fromIn.value) || !/^\d{4}-\d{2}-\d{2}$/.test(toIn.value) || fromIn.value > toIn.value) {
          err.textContent = '请选择有效的统计期间（起始日不晚于结束日）'; return;
        }
        if (!chosen.length) { err.textContent = '请至少选择一个科室'; return; }
        go.disabled = true;
        api('POST', '/api/v1/exports', { report: rep, from: fromIn.value, to: toIn.value, dept: chosen, format: rep === 'evidence-pack' ? undefined : format.value })
          .then(function (j) { remember(j.id); track(j, jobsBox); })
          .catch(function (e) { err.textContent = e.message; })
          .finally(function () { go.disabled = false; });
      });
      root.append(
        el('section', { class: 'card' }, el('h2', {}, '报表目录'), list),
        el('section', { class: 'card form-grid' }, el('h2', {}, '生成'),
          el('label', { for: 'rep-from' }, '统计期间 从'), fromIn, el('label', { for: 'rep-to' }, '至'), toIn,
          el('label', { for: 'rep-dept' }, '科室（可多选）'), deptSel, el('label', { for: 'rep-format' }, '格式'), format, go, err),
        el('section', { class: 'card' }, el('h2', {}, '本次生成'), jobsBox));
      picker(fromIn); picker(toIn);
      mine().forEach(function (id) { api('GET', '/api/v1/exports/' + id).then(function (j) { track(j, jobsBox); }).catch(function () { forget(id); }); });
      if (!mine().length) jobsBox.append(el('p', { class: 'empty', id: 'rep-jobs-empty' }, '尚未生成报表。选择报表、期间和科室后点“生成报表”。'));
      if (document.body.dataset.operator === 'true') return scheduled();
    });
  }

  // The jobs started from this browser tab survive a reload of the page.
  function mine() { try { return JSON.parse(sessionStorage.getItem('export-jobs') || '[]'); } catch (e) { return []; } }
  function remember(id) { var l = mine().filter(function (x) { return x !== id; }); l.unshift(id); sessionStorage.setItem('export-jobs', JSON.stringify(l.slice(0, 20))); }
  function forget(id) { sessionStorage.setItem('export-jobs', JSON.stringify(mine().filter(function (x) { return x !== id; }))); }

  // track shows one export job and follows its progress until it ends.
  function track(j, box) {
    var empty = $('rep-jobs-empty');
    if (empty) empty.remove();
    var row = box.querySelector('[data-job="' + j.id + '"]');
    if (!row) {
      row = el('div', { class: 'job', 'data-job': j.id });
      box.prepend(row);
    }
    var p = j.params || {};
    var bar = el('progress', { max: 100, value: Math.round(j.percent || 0) });
    var parts = [el('strong', {}, j.title), el('span', { class: 'muted' }, ' ' + (p.from || '') + ' 至 ' + (p.to || '')),
      el('span', { class: 'job-status', 'data-status': j.status }, ' ' + (statusText[j.status] || j.status))];
    if (j.status === 'queued' || j.status === 'running') {
      var cancel = el('button', { type: 'button', class: 'secondary' }, '取消');
      cancel.addEventListener('click', function () { api('DELETE', '/api/v1/exports/' + j.id).then(function (x) { track(x, box); }).catch(function (e) { setStatus(e.message, 'error'); }); });
      parts.push(bar, el('span', { class: 'muted small' }, ' 已写 ' + (j.rows || 0) + ' 行 · ' + Math.round(j.percent || 0) + '%'), cancel);
      setTimeout(function () { api('GET', '/api/v1/exports/' + j.id).then(function (x) { track(x, box); }).catch(function (e) { setStatus(e.message, 'error'); }); }, 700);
    } else if (j.status === 'done') {
      parts.push(el('a', { class: 'export', href: '/api/v1/exports/' + j.id + '/file', download: '', 'data-download': j.id }, '下载'),
        el('span', { class: 'muted small' }, ' ' + (j.rows || 0) + ' 行 · ' + size(j.bytes || 0) + ' · ' + when(j.finished_at)));
    } else if (j.error) {
      parts.push(el('span', { class: 'error' }, ' ' + j.error));
    }
    row.replaceChildren.apply(row, parts);
  }

  function scheduled() {
    var box = el('section', { class: 'card', id: 'scheduled' }, el('h2', {}, '定时报表（每月 1 日 06:00 生成上月报表；停机错过的在恢复后补跑）'));
    root.append(box);
    return api('GET', '/api/v1/reports/scheduled').then(function (res) {
      if (!res.items.length) { box.append(el('p', { class: 'empty' }, '还没有定时报表。')); return; }
      var rows = res.items.map(function (s) {
        var file = s.status === 'done' ? el('a', { class: 'export', href: '/api/v1/reports/scheduled/' + encodeURIComponent(s.name), download: '' }, '下载') : el('span', { class: 'error' }, s.error || '失败');
        return el('tr', { 'data-scheduled': s.name }, el('td', {}, s.report), el('td', {}, s.from + ' 至 ' + s.to), el('td', {}, statusText[s.status] || s.status),
          el('td', { class: 'num' }, s.rows), el('td', { class: 'num' }, s.bytes ? size(s.bytes) : '—'), el('td', {}, when(s.finished_at)),
          el('td', {}, s.caught_up ? '补跑（应于 ' + when(s.due_at) + '）' : '按时'), el('td', {}, file));
      });
      box.append(el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ['报表', '统计期间', '状态', '行数', '大小', '完成时间', '运行', '文件'].map(function (h) { return el('th', {}, h); }))),
        el('tbody', {}, rows))));
    });
  }

  // --- 知情同意书 -----------------------------------------------------------

  function consentsPage() {
    return api('GET', '/api/v1/consent-projects').then(function (res) {
      if (!res.items.length) { root.append(el('p', { class: 'empty' }, '本科室没有需要知情同意的治疗项目。')); return; }
      var manager = false;
      var sel = el('select', { id: 'ct-project' }, res.items.map(function (x) {
        return el('option', { value: x.project.id }, x.project.name + '（' + x.project.code + '）' + (x.current ? ' · 第 ' + x.current.revision + ' 版' : ' · 尚无文本'));
      }));
      var title = el('input', { id: 'ct-title', maxLength: 60 });
      var body = el('textarea', { id: 'ct-body', rows: 16 });
      var note = el('input', { id: 'ct-note', maxLength: 200, placeholder: '例如：补充色素沉着风险' });
      var count = el('span', { class: 'muted small', id: 'ct-count' });
      var preview = el('div', { class: 'consent-preview', id: 'ct-preview', 'aria-live': 'polite' });
      var save = el('button', { type: 'button', class: 'primary', id: 'ct-save' }, '保存为新版本');
      var msg = el('p', { class: 'status', id: 'ct-msg', role: 'status' });
      var history = el('div', { id: 'ct-history' });
      function draw() {
        count.textContent = '正文 ' + Array.from(body.value.trim()).length + ' 字（50–8000 字）';
        preview.replaceChildren.apply(preview, [el('h3', {}, title.value.trim() || '（标题）')].concat(
          body.value.split('\n').map(function (line) { return line.trim() ? el('p', {}, line) : el('br'); })));
      }
      function load() {
        msg.textContent = '';
        return api('GET', '/api/v1/projects/' + sel.value + '/consent-templates').then(function (h) {
          var cur = h.items[0];
          title.value = cur ? cur.title : '知情同意书（' + sel.options[sel.selectedIndex].text.split('（')[0] + '）';
          body.value = cur ? cur.body : '';
          note.value = '';
          draw();
          history.replaceChildren(h.items.length ? el('table', {}, el('thead', {}, el('tr', {}, ['版本', '保存时间', '修改说明', 'SM3'].map(function (x) { return el('th', {}, x); }))),
            el('tbody', {}, h.items.map(function (t, i) {
              return el('tr', { 'data-revision': t.revision }, el('td', {}, '第 ' + t.revision + ' 版' + (i === 0 ? '（现行）' : '')), el('td', {}, when(t.created_at)),
                el('td', {}, t.note || '—'), el('td', { class: 'mono small' }, t.text_sm3.slice(0, 16) + '…'));
            }))) : el('p', { class: 'empty' }, '该项目尚无知情同意书文本：在此之前不能签署知情同意，也就不能开始治疗。'));
        }).catch(function (e) { msg.textContent = e.message; msg.className = 'status error'; });
      }
      title.addEventListener('input', draw);
      body.addEventListener('input', draw);
      sel.addEventListener('change', load);
      save.addEventListener('click', function () {
        save.disabled = true; msg.className = 'status'; msg.textContent = '正在保存…';
        api('POST', '/api/v1/projects/' + sel.value + '/consent-templates', { title: title.value, body: body.value, note: note.value })
          .then(function (t) {
            sel.options[sel.selectedIndex].text = sel.options[sel.selectedIndex].text.replace(/ · .*$/, ' · 第 ' + t.revision + ' 版');
            return load().then(function () { msg.className = 'status'; msg.textContent = '已保存为第 ' + t.revision + ' 版；此后的签署均绑定此版全文。'; });
          })
          .catch(function (e) { msg.className = 'status error'; msg.textContent = e.message; })
          .finally(function () { save.disabled = false; });
      });
      return api('GET', '/api/v1/me').then(function (me) {
        manager = me.role === 'dept_manager';
        csrf = me.csrf_token || '';
        save.hidden = !manager;
        [title, body, note].forEach(function (x) { x.readOnly = !manager; });
        root.append(
          el('section', { class: 'card form-grid' }, el('h2', {}, '知情同意书文本'),
            el('label', { for: 'ct-project' }, '治疗项目'), sel,
            el('label', { for: 'ct-title' }, '标题'), title,
            el('label', { for: 'ct-body' }, '正文'), body, count,
            el('label', { for: 'ct-note' }, '修改说明'), note, save, msg,
            manager ? null : el('p', { class: 'muted small' }, '只有科室主任可以修改本科室的知情同意书。')),
          el('section', { class: 'card' }, el('h2', {}, '预览（平板与患者手机所见）'), preview),
          el('section', { class: 'card' }, el('h2', {}, '版本记录'), history));
        return load();
      });
    });
  }

  // --- 共享文档 -------------------------------------------------------------
  // The sources that could not become a WS/T 500 document, with the field
  // they lack, for the quality office to have corrected.

  var kindText = { treatment_record: '治疗记录', consent: '知情同意书' };

  function documentsPage() {
    return api('GET', '/api/v1/documents/failures?limit=200').then(function (res) {
      var box = el('section', { class: 'card', id: 'doc-failures' }, el('h2', {}, '未能生成共享文档的记录'),
        el('p', { class: 'muted small' }, '记录或知情同意书签名后数秒内自动生成 WS/T 500 共享文档（CDA R2，SM2 签名）；缺少必需字段的来源不生成文档，列在这里，补全并重新签名后自动生成新版本。'));
      if (!res.items.length) {
        box.append(el('p', { class: 'empty' }, '没有未能生成的文档：所有已签名的记录和知情同意书都已生成共享文档。'));
      } else {
        box.append(el('table', {}, el('thead', {}, el('tr', {}, ['文档类型', '来源编号', '版本', '缺少的字段', '说明', '发现时间'].map(function (x) { return el('th', {}, x); }))),
          el('tbody', {}, res.items.map(function (f) {
            return el('tr', { 'data-failure': f.id }, el('td', {}, kindText[f.kind] || f.kind), el('td', {}, String(f.source_id)), el('td', {}, '第 ' + f.version + ' 版'),
              el('td', { class: 'mono' }, f.field), el('td', {}, f.message.replace(/\s*\([^()]*\)\s*$/, '')), el('td', {}, when(f.created_at)));
          }))));
      }
      root.append(box);
    });
  }

  // --- 接口消息 -------------------------------------------------------------
  // HL7 v2 out (SIU, ORM) with their ACKs and the dead letters of both
  // directions, with replay. Patient identity is masked by the API.

  var feedText = { queued: '待发送', acked: '已确认', dead: '发送失败', replayed: '已重发' };

  function interfacesPage() {
    var out = el('section', { class: 'card', id: 'hl7-out' });
    var inbox = el('section', { class: 'card', id: 'hl7-in' });
    var filter = el('select', { id: 'hl7-status' }, el('option', { value: '' }, '全部'),
      Object.keys(feedText).map(function (k) { return el('option', { value: k }, feedText[k]); }));
    function loadOut() {
      return api('GET', '/api/v1/interfaces/hl7-out?limit=200' + (filter.value ? '&status=' + filter.value : '')).then(function (res) {
        out.replaceChildren(el('h2', {}, '发出的 HL7 消息'), el('label', { for: 'hl7-status' }, '状态 '), filter);
        if (!res.items.length) {
          out.append(el('p', { class: 'empty' }, filter.value ? '没有该状态的消息。' : '还没有发出的消息：在启动参数 --hl7-out 中配置 HIS 或集成平台后，预约、改约、取消、爽约与治疗完成会逐条发送。'));
          return;
        }
        out.append(el('table', {}, el('thead', {}, el('tr', {}, ['编号', '对端', '类型', '控制号', '状态', '应答', '尝试', '说明', '时间', ''].map(function (x) { return el('th', {}, x); }))),
          el('tbody', {}, res.items.map(function (m) {
            var replay = m.status === 'dead' ? el('button', { type: 'button', class: 'secondary', 'data-replay': m.id }, '重发') : null;
            if (replay) replay.addEventListener('click', function () {
              replay.disabled = true;
              api('POST', '/api/v1/interfaces/hl7-out/' + m.id + '/replay').then(loadOut).then(function () { setStatus('已排入队尾重发'); })
                .catch(function (e) { replay.disabled = false; setStatus(e.message, 'error'); });
            });
            var body = el('details', {}, el('summary', {}, m.control_id), el('pre', { class: 'mono small' }, m.message.split('\r').join('\n')));
            return el('tr', { 'data-message': m.id, 'data-status': m.status }, el('td', {}, String(m.id)), el('td', {}, m.peer), el('td', {}, m.type), el('td', {}, body),
              el('td', {}, feedText[m.status] || m.status), el('td', {}, m.ack_code || '—'), el('td', {}, String(m.attempts)),
              el('td', { class: 'small' }, m.last_error || ''), el('td', {}, when(m.done_at || m.created_at)), el('td', {}, replay));
          }))));
      });
    }
    function loadIn() {
      return api('GET', '/api/v1/interfaces/hl7-in/dead-letters?limit=200').then(function (res) {
        var replay = el('button', { type: 'button', class: 'secondary', id: 'hl7-in-replay' }, '全部重新处理');
        replay.addEventListener('click', function () {
          replay.disabled = true;
          api('POST', '/api/v1/interfaces/hl7-in/replay').then(function (r) { setStatus('重新处理成功 ' + r.replayed + ' 条，仍有 ' + r.left.length + ' 条未能处理'); return loadIn(); })
            .catch(function (e) { replay.disabled = false; setStatus(e.message, 'error'); });
        });
        inbox.replaceChildren(el('h2', {}, 'HIS 发来的死信（未能处理的 HL7 消息）'));
        if (!res.items.length) { inbox.append(el('p', { class: 'empty' }, '没有死信：HIS 发来的消息都已处理。')); return; }
        inbox.append(replay, el('table', {}, el('thead', {}, el('tr', {}, ['编号', '控制号', '应答', '原因', '消息'].map(function (x) { return el('th', {}, x); }))),
          el('tbody', {}, res.items.map(function (d) {
            return el('tr', { 'data-dead-letter': d.id }, el('td', {}, String(d.id)), el('td', {}, d.message_id || '—'), el('td', {}, d.ack_code),
              el('td', { class: 'small' }, d.reason), el('td', {}, el('details', {}, el('summary', {}, '查看'), el('pre', { class: 'mono small' }, d.raw.split('\r').join('\n')))));
          }))));
      });
    }
    filter.addEventListener('change', function () { loadOut().catch(function (e) { setStatus(e.message, 'error'); }); });
    root.append(out, inbox);
    return Promise.all([loadOut(), loadIn()]);
  }

  var pages = { reports: reportsPage, consents: consentsPage, documents: documentsPage, interfaces: interfacesPage };
  var draw = pages[document.body.dataset.tool];
  if (!draw) { setStatus('未知页面', 'error'); return; }
  draw().then(function () {
    setStatus('');
    root.hidden = false;
    document.body.dataset.ready = '1';
  }).catch(function (e) {
    setStatus('加载失败：' + e.message + '（请刷新重试）', 'error');
    document.body.dataset.ready = 'error';
  });
})();
