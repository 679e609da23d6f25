// zhiliao 分析看板: draws a page's KPIs, charts and tables from the analytics
// API with the session cookie, keeps the filter bar in the URL, drills from
// a chart point to the detail rows behind it, and downloads every table as
// the CSV the server renders from the same definition as the screen.
(function () {
  'use strict';

  var spec = JSON.parse(document.getElementById('page-spec').textContent);
  spec.charts = spec.charts || [];
  spec.kpis = spec.kpis || [];
  spec.tables = spec.tables || [];
  var operator = document.body.dataset.operator === 'true';
  var state = { from: '', to: '', dept: '', project: '' };
  var anchor = '';          // the last day with data (or today)
  var firstDay = '';        // the first day with data: 同比 before it has nothing to compare
  var dims = { institutions: [], departments: [], projects: [], staff: [] };
  var charts = {};          // id → echarts instance
  var detail = { chart: null, params: null, page: 1, size: 20, total: 0 };
  var pending = 0;
  var urlError = '';        // a bad date read from the address, shown once the page draws

  function $(id) { return document.getElementById(id); }

  function busy(delta) {
    pending += delta;
    document.body.dataset.ready = pending === 0 ? '1' : '0';
    if (pending === 0) { setStatus(''); }
  }

  function setStatus(msg, isError) {
    var el = $('status');
    el.textContent = msg;
    el.className = isError ? 'status error' : 'status';
  }

  // api fetches JSON with the session cookie; a lost session goes back to login.
  function api(path) {
    busy(1);
    return fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (r.status === 401) {
        location.href = '/dash/login?next=' + encodeURIComponent(location.pathname + location.search);
        throw new Error('请重新登录');
      }
      return r.json().then(function (body) {
        if (!r.ok) {
          // People read the Chinese; the English gloss in brackets stays in the API.
          var e = new Error(((body.error && body.error.message) || '').replace(/\s*\((?=[^()]*[A-Za-z])[^()]*\)\s*$/, '') || ('请求失败 HTTP ' + r.status));
          e.status = r.status;
          throw e;
        }
        return body;
      });
    }).finally(function () { busy(-1); });
  }

  // --- dates -------------------------------------------------------------
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmtDay(d) { return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }
  function parseDay(s) { var p = s.split('-'); return new Date(Date.UTC(+p[0], +p[1] - 1, +p[2])); }
  function addDays(s, n) { var d = parseDay(s); d.setUTCDate(d.getUTCDate() + n); return fmtDay(d); }
  function monthStart(s) { return s.slice(0, 8) + '01'; }
  function monthEnd(s) { var d = parseDay(monthStart(s)); d.setUTCMonth(d.getUTCMonth() + 1); d.setUTCDate(0); return fmtDay(d); }
  function minDay(a, b) { return a < b ? a : b; }
  function daysBetween(a, b) { return Math.round((parseDay(b) - parseDay(a)) / 86400000); }

  function preset(name) {
    switch (name) {
      case 'today': return [anchor, anchor];
      case '7d': return [addDays(anchor, -6), anchor];
      case 'month': return [monthStart(anchor), anchor];
      case 'lastmonth': var last = addDays(monthStart(anchor), -1); return [monthStart(last), last];
      default: return [addDays(anchor, -89), anchor];
    }
  }

  // --- formats (the same as reports.Format on the server) -----------------
  function fmt(v, format) {
    if (v === null || v === undefined || isNaN(v)) { return '—'; }
    switch (format) {
      case 'yuan': return '¥' + v.toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      case 'percent': return (v * 100).toFixed(1) + '%';
      case 'decimal': return v.toFixed(2);
      default: return Math.round(v).toLocaleString('zh-CN');
    }
  }

  // value computes a series over one result row (by column name) or over
  // the sums of many: num over den times scale, fen as yuan.
  function value(s, sums) {
    var num = sums[s.num] || 0, scale = s.scale || 1;
    if (s.format === 'yuan') { scale = scale / 100; }
    if (!s.den) { return num * scale; }
    var den = sums[s.den] || 0;
    return den === 0 ? null : num / den * scale;
  }

  function measures(series) {
    var out = [];
    series.forEach(function (s) {
      [s.num, s.den].forEach(function (m) { if (m && out.indexOf(m) < 0) { out.push(m); } });
    });
    return out;
  }

  function filterQuery(extra) {
    var q = new URLSearchParams();
    q.set('from', state.from);
    q.set('to', state.to);
    if (state.institution) { q.set('institution', state.institution); }
    if (state.dept) { q.set('dept', state.dept); }
    if (state.project) { q.set('project', state.project); }
    Object.keys(extra || {}).forEach(function (k) { if (extra[k] !== '' && extra[k] !== undefined) { q.set(k, extra[k]); } });
    return q.toString();
  }

  function autoGrain() {
    var n = daysBetween(state.from, state.to);
    return n <= 62 ? 'day' : (n <= 400 ? 'week' : 'month');
  }

  // periodsOf lists every period of a grain from..to, starting as the marts'
  // periods do (weeks on Monday, months on the 1st).
  function periodsOf(grain, from, to) {
    var out = [], d = parseDay(from), end = parseDay(to);
    if (grain === 'week') { d.setUTCDate(d.getUTCDate() - (d.getUTCDay() + 6) % 7); }
    if (grain === 'month') { d.setUTCDate(1); }
    while (d <= end && out.length < 1200) {
      out.push(fmtDay(d));
      if (grain === 'day') { d.setUTCDate(d.getUTCDate() + 1); } else if (grain === 'week') { d.setUTCDate(d.getUTCDate() + 7); } else { d.setUTCMonth(d.getUTCMonth() + 1); }
    }
    return out;
  }

  // fillPeriods gives a period chart every period of the range: one without
  // activity is drawn as zero (a rate as a gap), not left out so that its
  // neighbours close up over it.
  function fillPeriods(rows, grain) {
    if (grain === 'all') { return rows; }
    var byPeriod = {};
    rows.forEach(function (o) { byPeriod[o.period] = o; });
    var keys = periodsOf(grain, state.from, state.to);
    rows.forEach(function (o) { if (keys.indexOf(o.period) < 0) { keys.push(o.period); } });
    keys.sort();
    return keys.map(function (k) { return byPeriod[k] || { period: k }; });
  }

  // rowsAsObjects turns a mart JSON response into objects by column name.
  function rowsAsObjects(body) {
    return body.rows.map(function (row) {
      var o = {};
      body.columns.forEach(function (c, i) { o[c.name] = row[i]; });
      return o;
    });
  }

  // --- filter bar ----------------------------------------------------------
  // validDay: a real day written YYYY-MM-DD (2026-02-30 is not one).
  function validDay(s) { return /^\d{4}-\d{2}-\d{2}$/.test(s) && s >= '1900-01-01' && fmtDay(parseDay(s)) === s; }

  // readURL takes the filters from the address; a date that is not a real
  // day is reported and the default range used instead.
  function readURL() {
    var q = new URLSearchParams(location.search);
    ['from', 'to', 'institution', 'dept', 'project'].forEach(function (k) { state[k] = q.get(k) || ''; });
    var bad = ['from', 'to'].filter(function (k) { return state[k] && !validDay(state[k]); });
    if (bad.length || (state.from && state.to && state.from > state.to)) {
      urlError = '链接中的日期无效（' + (state.from || '—') + ' 至 ' + (state.to || '—') + '），已改用默认范围';
      state.from = state.to = '';
    }
  }

  function writeURL() {
    history.replaceState(null, '', location.pathname + '?' + filterQuery());
    document.querySelectorAll('nav a[data-nav]').forEach(function (a) {
      a.href = '/dash/' + a.dataset.nav + '?' + filterQuery();
    });
  }

  // regional: the reader sees more than one institution (区域平台), so the
  // filter bar offers them and the overview compares them.
  function regional() { return (dims.institutions || []).length > 1; }
  function fillSelects() {
    var inst = $('institution'), dept = $('dept'), project = $('project');
    $('institution-filter').hidden = !regional();
    inst.innerHTML = '';
    inst.add(new Option('全部机构', ''));
    (dims.institutions || []).forEach(function (i) { inst.add(new Option(i.name, String(i.id))); });
    inst.value = state.institution;
    if (inst.value !== state.institution) { state.institution = ''; inst.value = ''; }
    var depts = dims.departments.filter(function (d) { return !state.institution || String(d.institution_id) === state.institution; });
    dept.innerHTML = '';
    if (depts.length > 1) { dept.add(new Option(state.institution || !regional() ? '全部科室' : '全部机构与科室', '')); }
    depts.forEach(function (d) { dept.add(new Option(d.name, String(d.id))); });
    if (depts.length === 1) { state.dept = String(depts[0].id); }
    dept.value = state.dept;
    project.innerHTML = '';
    project.add(new Option('全部项目', ''));
    var inDepts = {};
    depts.forEach(function (d) { inDepts[String(d.id)] = true; });
    dims.projects.forEach(function (p) {
      if (state.dept ? String(p.dept_id) === state.dept : inDepts[String(p.dept_id)]) { project.add(new Option(p.name, String(p.id))); }
    });
    project.value = state.project;
    if (project.value !== state.project) { state.project = ''; project.value = ''; }
  }

  // Day pickers: flatpickr with its zh locale (vendored from npm), so the
  // calendar reads 年/月/星期 and the field yyyy-mm-dd whatever the
  // browser's own language; <input type=date> follows the browser locale.
  var pickers = {};
  function showDays() {
    ['from', 'to'].forEach(function (id) {
      if (pickers[id]) { pickers[id].setDate(state[id], false); } else { $(id).value = state[id]; }
    });
  }
  function dayChosen(id) {
    var v = $(id).value.trim();
    if (!v) { return; }
    if (!validDay(v)) { setStatus('日期应写作 年-月-日，例如 2026-11-01', true); return; }
    state[id] = v;
    if (state.from > state.to) { setStatus('开始日期晚于结束日期', true); return; }
    refresh();
  }
  function bindFilters() {
    ['from', 'to'].forEach(function (id) {
      if (window.flatpickr && flatpickr.l10ns && flatpickr.l10ns.zh) {
        pickers[id] = flatpickr($(id), {
          locale: flatpickr.l10ns.zh, dateFormat: 'Y-m-d', allowInput: true, disableMobile: true,
          onChange: function () { dayChosen(id); }
        });
      } else {
        $(id).addEventListener('change', function () { dayChosen(id); });
      }
    });
    showDays();
    document.querySelectorAll('[data-preset]').forEach(function (b) {
      b.addEventListener('click', function () {
        var r = preset(b.dataset.preset);
        state.from = r[0]; state.to = r[1];
        showDays();
        refresh();
      });
    });
    $('institution').addEventListener('change', function () { state.institution = $('institution').value; state.dept = ''; state.project = ''; fillSelects(); refresh(); });
    $('dept').addEventListener('change', function () { state.dept = $('dept').value; state.project = ''; fillSelects(); refresh(); });
    $('project').addEventListener('change', function () { state.project = $('project').value; refresh(); });
  }

  // --- KPIs ------------------------------------------------------------------
  // periodBefore is the range of the same length just before [from, to]
  // (环比); yearBefore the same days a year earlier (同比).
  function periodBefore(from, to) {
    var days = Math.round((parseDay(to) - parseDay(from)) / 86400000) + 1;
    return [addDays(from, -days), addDays(from, -1)];
  }
  function yearBefore(day) {
    var d = parseDay(day);
    d.setUTCFullYear(d.getUTCFullYear() - 1);
    return fmtDay(d);
  }
  // change is the relative change from before to now, as 环比/同比 show it.
  function change(now, before) {
    if (now === null || before === null || before === undefined || before === 0) { return '—'; }
    var r = (now - before) / Math.abs(before);
    return (r >= 0 ? '+' : '') + (r * 100).toFixed(1) + '%';
  }

  // drawKPIs: each card is its figure over the selected range, with 环比
  // (the same number of days just before) and 同比 (the same days a year
  // earlier) beside it.
  function drawKPIs() {
    var box = $('kpis');
    if (!box) { return; }
    box.innerHTML = '';
    var prev = periodBefore(state.from, state.to);
    var ranges = [[state.from, state.to], prev, [yearBefore(state.from), yearBefore(state.to)]];
    spec.kpis.forEach(function (k) {
      var card = document.createElement('div');
      card.className = 'kpi';
      card.dataset.kpi = k.id;
      card.innerHTML = '<h3></h3><div class="kpi-range"><span class="label">所选期间</span><b>…</b></div>' +
        '<div class="kpi-compare"><span class="label">环比</span><span class="mom">…</span><span class="label">同比</span><span class="yoy">…</span></div>' +
        '<p class="card-error" hidden></p>';
      card.querySelector('h3').textContent = k.title;
      card.title = state.from + ' 至 ' + state.to + '；环比对比 ' + prev[0] + ' 至 ' + prev[1] + '；同比对比 ' + ranges[2][0] + ' 至 ' + ranges[2][1];
      box.appendChild(card);
      Promise.all(ranges.map(function (r) {
        var q = new URLSearchParams({ from: r[0], to: r[1], grain: 'all', measures: measures([k.series]).join(',') });
        if (state.dept) { q.set('dept', state.dept); }
        if (state.project && k.mart !== 'data_quality') { q.set('project', state.project); }
        return api('/api/v1/marts/' + k.mart + '?' + q).then(function (body) { return value(k.series, rowsAsObjects(body)[0] || {}); });
      })).then(function (v) {
        card.querySelector('.kpi-range b').textContent = fmt(v[0], k.series.format);
        card.querySelector('.mom').textContent = change(v[0], v[1]);
        var yoy = card.querySelector('.yoy');
        yoy.textContent = change(v[0], v[2]);
        // 同比 empty: say why (before the first day with data, or nothing then).
        if (yoy.textContent === '—') {
          var none = firstDay && ranges[2][1] < firstDay;
          yoy.textContent = none ? '—（无去年同期数据）' : '—（去年同期为 0）';
          yoy.title = none ? '去年同期 ' + ranges[2][0] + ' 至 ' + ranges[2][1] + ' 早于数据起始日 ' + firstDay : '去年同期 ' + ranges[2][0] + ' 至 ' + ranges[2][1] + ' 的值为 0，无法计算增幅';
        }
        cardError(card, null);
      }).catch(function (err) { cardError(card, err); });
    });
    var fresh = document.createElement('div');
    fresh.className = 'kpi';
    fresh.dataset.kpi = 'freshness';
    fresh.innerHTML = '<h3>数据新鲜度</h3><div><span class="label">数据截至</span><b id="kpi-asof">…</b></div>' +
      '<div><span class="label">待处理事件</span><b id="kpi-behind">…</b></div>';
    box.appendChild(fresh);
    api('/api/v1/etl/freshness').then(function (body) {
      var latest = '', behind = 0;
      body.items.forEach(function (f) {
        if (f.data_as_of && f.data_as_of > latest) { latest = f.data_as_of; }
        behind = Math.max(behind, f.events_behind);
      });
      $('kpi-asof').textContent = localTime(latest);
      $('kpi-behind').textContent = fmt(behind, 'int');
    }).catch(showError);
  }

  // --- charts ----------------------------------------------------------------
  function chartSpec(id) {
    for (var i = 0; i < spec.charts.length; i++) { if (spec.charts[i].id === id) { return spec.charts[i]; } }
    return null;
  }

  function xLabel(c, o) {
    if (!c.by) { return o.period; }
    if (c.by === 'item,dimension') { return o.item + ' ' + o.dimension; }
    return o[c.by.replace('_id', '_name')] || '未指定';
  }

  function drawChart(c) {
    var el = $('chart-' + c.id);
    el.dataset.drawn = '0';
    var grain = c.by ? 'all' : (c.grain || autoGrain());
    var extra = { grain: grain, measures: measures(c.series).join(',') };
    if (c.by) { extra.group_by = c.by; }
    if (c.mart === 'data_quality') { delete extra.project; }
    var path = '/api/v1/marts/' + c.mart + '?' + filterQuery(extra);
    if (c.mart === 'data_quality') { path = path.replace(/&project=\d+/, ''); }
    var loads = [api(path)];
    if (c.threshold) { loads.push(api('/api/v1/tables/data-quality-items?' + filterQuery().replace(/&project=\d+/, ''))); }
    Promise.all(loads).then(function (res) {
      var rows = rowsAsObjects(res[0]);
      var empty = rows.length === 0;
      if (!c.by && !empty) { rows = fillPeriods(rows, grain); }
      var chart = charts[c.id] || echarts.init(el, null, { renderer: 'canvas' });
      charts[c.id] = chart;
      var series = c.series.map(function (s) {
        return {
          name: s.name, type: s.type || c.type, smooth: c.type === 'line', barMaxWidth: 36,
          tooltip: { valueFormatter: function (v) { return fmt(v, s.format); } },
          data: rows.map(function (o) { var v = value(s, o); return v === null ? null : +v.toFixed(4); })
        };
      });
      if (c.threshold) {
        var thr = {};
        var key = {};
        res[1].columns.forEach(function (col, i) { key[col.key] = i; });
        res[1].values.forEach(function (v) { thr[v[key.item] + ' ' + v[key.dimension]] = v[key.threshold]; });
        series.push({ name: '阈值', type: 'scatter', symbol: 'rect', symbolSize: [28, 3], itemStyle: { color: '#d9534f' },
          tooltip: { valueFormatter: function (v) { return fmt(v, 'percent'); } },
          data: rows.map(function (o) { var t = thr[o.item + ' ' + o.dimension]; return t === undefined ? null : t; }) });
      }
      var format = c.series[0].format;
      chart.setOption({
        animation: false,
        tooltip: { trigger: 'axis' },
        toolbox: { right: 8, feature: { saveAsImage: { title: '下载 PNG', name: (c.title || c.id) + '_' + state.from + '_' + state.to, pixelRatio: 2 } } },
        graphic: empty ? [{ type: 'text', left: 'center', top: 'middle', style: { text: '所选范围暂无数据', fontSize: 14, fill: '#888' } }] : [],
        legend: { top: 0 },
        grid: { left: 64, right: 16, top: 32, bottom: c.by ? 72 : 32 },
        xAxis: { type: 'category', data: rows.map(function (o) { return xLabel(c, o); }),
          axisLabel: { rotate: c.by ? 30 : 0, hideOverlap: true } },
        yAxis: { type: 'value', axisLabel: { formatter: function (v) { return fmt(v, format); } } },
        series: series
      }, true);
      chart.off('click');
      chart.on('click', function (p) { openDetail(c, rows[p.dataIndex], grain); });
      el.dataset.points = String(rows.length);
      el.dataset.sum = String(series[0].data.reduce(function (a, v) { return a + (v || 0); }, 0));
      el.dataset.empty = empty ? '1' : '0';
      el.dataset.drawn = '1';
      cardError(el.closest('.card'), null);
    }).catch(function (err) { cardError(el.closest('.card'), err); });
  }

  // --- drill-down ---------------------------------------------------------------
  function openDetail(c, o, grain) {
    if (!o) { return; }
    var params = {};
    var from = state.from, to = state.to, label;
    if (!c.by) {
      from = o.period;
      to = grain === 'day' ? o.period : (grain === 'week' ? minDay(addDays(o.period, 6), state.to) : minDay(monthEnd(o.period), state.to));
      if (from < state.from) { from = state.from; }
      label = from === to ? from : from + ' 至 ' + to;
    } else if (c.by === 'item,dimension') {
      params.item = o.item; params.dimension = o.dimension;
      label = o.item + ' ' + o.dimension;
    } else {
      params[c.by.replace('_id', '')] = String(o[c.by]);
      label = xLabel(c, o);
    }
    detail.chart = c;
    detail.params = Object.assign({ from: from, to: to }, params);
    detail.page = 1;
    $('detail-title').textContent = c.title + ' · ' + label + ' 明细';
    loadDetail();
  }

  // detailQuery is the detail request of the selection: a page of it for the
  // screen, or (format csv) every row of it, streamed by the server.
  function detailQuery(format) {
    var q = new URLSearchParams(detail.params);
    if (state.dept) { q.set('dept', state.dept); }
    if (state.project && detail.chart.mart !== 'data_quality') { q.set('project', state.project); }
    if (detail.chart.mart === 'data_quality' && $('detail-failing').checked) { q.set('failing', '1'); }
    if (format) {
      q.set('format', format);
    } else {
      q.set('page', String(detail.page));
      q.set('page_size', String(detail.size));
    }
    return '/api/v1/marts/' + detail.chart.mart + '/detail?' + q;
  }

  function loadDetail() {
    var box = $('detail');
    box.hidden = false;
    $('detail-failing-label').hidden = detail.chart.mart !== 'data_quality';
    api(detailQuery()).then(function (body) {
      detail.total = body.total;
      // The rating units' codes (entity, passed) are shown by their Chinese columns beside them.
      var cols = body.columns.filter(function (c) {
        return (!/_id$/.test(c.name) || /^(session|appointment|survey|entity|patient)_id$/.test(c.name)) && !(body.mart === 'data_quality' && (c.name === 'entity' || c.name === 'passed'));
      });
      var idx = cols.map(function (c) { return body.columns.indexOf(c); });
      renderTable($('detail-table'), cols.map(function (c) {
        return { header: c.title.replace('(分)', '(元)'), format: c.type === 'int' && !codeNames[c.name] ? 'int' : 'text' };
      }), body.rows.map(function (r) { return idx.map(function (i) { return cellText(r[i], body.columns[i].type, body.columns[i].name); }); }));
      $('detail-export').href = detailQuery('csv');
      var pages = Math.max(1, Math.ceil(body.total / detail.size));
      $('detail-page').textContent = '第 ' + detail.page + ' / ' + pages + ' 页，共 ' + body.total + ' 条';
      $('detail-prev').disabled = detail.page <= 1;
      $('detail-next').disabled = detail.page >= pages;
      box.scrollIntoView({ block: 'nearest' });
    }).catch(showError);
  }

  // Codes are shown in Chinese, as the hospital names them; amounts held in
  // fen are shown in yuan.
  var channels = { wechat: '微信', onsite: '现场', phone: '电话', pad: '平板', kiosk: '自助机', sms: '短信', electronic: '电子', paper: '纸质' };
  var codeNames = {
    visit_type: { outpatient: '门诊', inpatient: '住院' },
    channel: channels, via: channels,
    passed: { 1: '达标', 0: '未达标' },
    charge_confirmed: { 1: '是', 0: '否' },
    status: { completed: '已完成', aborted: '已中止', in_progress: '进行中', booked: '已预约', cancelled: '已取消', no_show: '爽约',
      checked_in: '已签到', done: '已完成', missed: '失访', pending: '待随访', sent: '已发放', answered: '已回收' }
  };

  function cellText(v, type, name) {
    if (v === null || v === undefined) { return ''; }
    if (type === 'time') { return v.replace('T', ' ').replace('+08:00', ''); }
    if (name && /_fen$/.test(name) && typeof v === 'number') { return '¥' + (v / 100).toFixed(2); }
    if (name && codeNames[name] && codeNames[name][String(v)] !== undefined) { return codeNames[name][String(v)]; }
    return String(v);
  }

  // --- tables ----------------------------------------------------------------------
  function renderTable(wrap, columns, rows) {
    var t = document.createElement('table');
    var head = t.createTHead().insertRow();
    columns.forEach(function (c) {
      var th = document.createElement('th');
      th.textContent = c.header;
      if (c.format !== 'text' && c.format !== 'date') { th.className = 'num'; }
      head.appendChild(th);
    });
    var body = t.createTBody();
    rows.forEach(function (r) {
      var tr = body.insertRow();
      r.forEach(function (v, i) {
        var td = tr.insertCell();
        td.textContent = v;
        if (columns[i].format !== 'text' && columns[i].format !== 'date') { td.className = 'num'; }
      });
    });
    if (rows.length === 0) {
      var tr = body.insertRow(), td = tr.insertCell();
      td.colSpan = columns.length;
      td.className = 'empty';
      td.textContent = '所选范围内没有数据';
    }
    wrap.innerHTML = '';
    wrap.appendChild(t);
    wrap.dataset.rows = String(rows.length);
  }

  function drawTable(card) {
    var id = card.dataset.table;
    if (id === 'institution-overview' && !regional()) {
      card.hidden = true;
      card.querySelector('.table-wrap').dataset.rows = '0';
      return;
    }
    card.hidden = false;
    var path = '/api/v1/tables/' + id + '?' + filterQuery();
    if (id === 'data-quality-items') { path = path.replace(/&project=\d+/, ''); }
    api(path).then(function (body) {
      card.querySelector('h2').textContent = body.title + '（' + body.rows.length + ' 行）';
      var wrap = card.querySelector('.table-wrap');
      if (body.rows.length === 0) {
        wrap.textContent = '所选范围暂无数据';
        wrap.dataset.rows = '0';
      } else {
        renderTable(wrap, body.columns, body.rows);
      }
      ['csv', 'xlsx'].forEach(function (f) {
        var a = card.querySelector('a.export-' + f);
        a.href = path + '&format=' + f;
        a.setAttribute('download', id + '_' + state.from + '_' + state.to + '.' + f);
      });
      cardError(card, null);
    }).catch(function (err) { cardError(card, err); });
  }

  // --- ETL ----------------------------------------------------------------------------
  // localTime is an instant in China time, written as the page writes days
  // (2026-12-07 20:04:13): one date format on every page.
  var stamp = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  function localTime(s) {
    if (!s) { return '—'; }
    var p = {};
    stamp.formatToParts(new Date(s)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + '-' + p.month + '-' + p.day + ' ' + (p.hour === '24' ? '00' : p.hour) + ':' + p.minute + ':' + p.second;
  }

  function drawETL() {
    api('/api/v1/etl/freshness').then(function (body) {
      renderTable($('freshness-table'), [{ header: '数据集市' }, { header: '最近成功' }, { header: '水位', format: 'int' },
        { header: '数据截至' }, { header: '待处理事件', format: 'int' }, { header: '最近状态' }, { header: '错误' }].map(textCol),
        body.items.map(function (f) {
          return [f.title, localTime(f.last_success), String(f.watermark), localTime(f.data_as_of), String(f.events_behind),
            f.last_status === 'ok' ? '成功' : (f.last_status || '未运行'), f.last_error || ''];
        }));
    }).catch(showError);
    if (!operator) {
      $('runs-table').textContent = '运行记录仅对管理员与质控科开放。';
      return;
    }
    api('/api/v1/etl/runs?limit=50').then(function (body) {
      renderTable($('runs-table'), [{ header: '数据集市' }, { header: '任务' }, { header: '方式' }, { header: '状态' },
        { header: '天数', format: 'int' }, { header: '行数', format: 'int' }, { header: '水位', format: 'int' },
        { header: '开始' }, { header: '耗时(秒)', format: 'decimal' }, { header: '错误' }].map(textCol),
        body.items.map(function (r) {
          return [martTitle(r.mart), jobNames[r.job] || r.job, r.full ? '全量' : '增量', r.status === 'ok' ? '成功' : '失败', String(r.days), String(r.rows),
            String(r.watermark), localTime(r.started_at), ((new Date(r.finished_at) - new Date(r.started_at)) / 1000).toFixed(2), r.error || ''];
        }));
    }).catch(showError);
  }

  var jobNames = { incremental: '定时增量', nightly: '夜间全量', manual: '手动', live: '实时增量' };
  function martTitle(name) {
    var titles = { workload: '工作量', revenue: '收入', project: '项目', satisfaction: '满意度与随访', data_quality: '数据质量与评级', patients: '治疗患者' };
    return titles[name] || name;
  }

  function textCol(c) { return { header: c.header, format: c.format || 'text' }; }

  // exportLocal downloads a table drawn here (not from a report definition)
  // exactly as shown, with the server's guard against spreadsheet formulas.
  function exportLocal(wrapId, name) {
    var lines = [];
    document.querySelectorAll('#' + wrapId + ' tr').forEach(function (tr) {
      var cells = [];
      tr.querySelectorAll('th,td').forEach(function (td) {
        var v = td.textContent;
        if (/^[=+\-@\t\r]/.test(v)) { v = "'" + v; }
        cells.push('"' + v.replace(/"/g, '""') + '"');
      });
      lines.push(cells.join(','));
    });
    var blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name + '.csv';
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function showError(err) {
    setStatus('加载失败：' + err.message, true);
  }

  // cardError shows a failed request in the card it belongs to, and keeps
  // it there until that card's next success (err null clears it).
  function cardError(card, err) {
    if (!card) { return; }
    var p = card.querySelector('.card-error');
    if (!p) {
      p = document.createElement('p');
      p.className = 'card-error';
      card.appendChild(p);
    }
    p.hidden = !err;
    p.textContent = err ? '加载失败：' + err.message : '';
  }

  function refresh() {
    writeURL();
    $('detail').hidden = true;
    redraw();
  }

  // redraw draws the figures again for the same filters (the detail panel
  // stays as it is).
  // printScope is the line a printed page starts with: what it shows.
  function printScope() {
    var el = $('print-scope');
    if (!el) { return; }
    var dept = dims.departments.filter(function (d) { return String(d.id) === String(state.dept); })[0];
    var project = dims.projects.filter(function (p) { return String(p.id) === String(state.project); })[0];
    el.textContent = spec.title + ' · 统计期间 ' + state.from + ' 至 ' + state.to + ' · 科室 ' + (dept ? dept.name : '全部科室（本账号范围内）') +
      (project ? ' · 项目 ' + project.name : '') + ' · 打印于 ' + localTime(new Date().toISOString());
  }

  // post writes with the session cookie and its CSRF token (from /api/v1/me).
  var csrfToken = null;
  function post(path, body) {
    var ready = csrfToken !== null ? Promise.resolve() : fetch('/api/v1/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); }).then(function (me) { csrfToken = me.csrf_token || ''; });
    return ready.then(function () {
      return fetch(path, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken },
        body: JSON.stringify(body) });
    }).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) { throw new Error(((b.error && b.error.message) || '').replace(/\s*\((?=[^()]*[A-Za-z])[^()]*\)\s*$/, '') || ('请求失败 HTTP ' + r.status)); }
        return b;
      });
    });
  }

  // exportPage writes the page's workbook (Excel or PDF) for the period and
  // department on screen, as an export job, showing its progress, and
  // downloads it when it is done.
  function exportPage(format, btn) {
    btn.disabled = true;
    var body = { report: spec.report, from: state.from, to: state.to, format: format };
    if (state.dept) { body.dept = [Number(state.dept)]; }
    var what = format === 'pdf' ? 'PDF' : 'Excel';
    setStatus('正在生成 ' + what + '…');
    function follow(j) {
      if (j.status === 'done') {
        setStatus('已生成 ' + what + '（' + j.rows + ' 行），正在下载');
        var a = document.createElement('a');
        a.href = '/api/v1/exports/' + j.id + '/file'; a.download = ''; a.id = 'page-download';
        document.body.appendChild(a); a.click(); a.remove();
        btn.disabled = false;
        document.body.dataset.exported = j.id;
        return;
      }
      if (j.status === 'failed' || j.status === 'cancelled') { throw new Error(j.error || '导出未完成'); }
      setStatus('正在生成 ' + what + '… ' + Math.round(j.percent || 0) + '%（已写 ' + (j.rows || 0) + ' 行）');
      return new Promise(function (r) { setTimeout(r, 700); }).then(function () { return api('/api/v1/exports/' + j.id); }).then(follow);
    }
    post('/api/v1/exports?wait=5', body).then(follow).catch(function (e) { btn.disabled = false; setStatus('导出失败：' + e.message, true); });
  }

  function redraw() {
    printScope();
    drawKPIs();
    spec.charts.forEach(drawChart);
    document.querySelectorAll('[data-table]').forEach(drawTable);
    if (spec.etl) { drawETL(); }
  }

  // Live figures: every few seconds the page reads the marts' freshness;
  // the data-as-of time is always shown, and when the marts have moved on
  // (the service rebuilds them within seconds of a committed change) the
  // figures are drawn again without a reload.
  var seenWatermark = null;
  var asofText = '';        // the last day with data, as the calendar said
  function watchFreshness() {
    if (document.hidden) { return; }
    fetch('/api/v1/etl/live', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body) { return; }
      var mark = body.watermark || 0, asOf = body.data_as_of || '';
      if (asOf && asofText) { $('asof').textContent = asofText + ' · 已计入 ' + localTime(asOf) + ' 前的业务数据'; }
      document.body.dataset.watermark = String(mark);
      if (seenWatermark !== null && mark !== seenWatermark) { redraw(); }
      seenWatermark = mark;
    }).catch(function () { /* the next tick tries again; the figures stay */ });
  }

  function start() {
    readURL();
    busy(0);
    // "Today" is the server's (its clock is the one the tests set), and the
    // presets anchor on the last day with data on or before it.
    // A new service builds its marts in its first minutes: until every mart
    // has been built once the page says so, with progress, and asks again,
    // instead of drawing empty charts from a calendar without data.
    function whenBuilt() {
      return api('/api/v1/calendar').then(function (cal) {
        if (cal.built) { $('building').hidden = true; return cal; }
        $('building').hidden = false;
        $('building-progress').textContent = '已完成 ' + cal.marts_built + ' / ' + cal.marts + ' 个数据集市';
        $('building-bar').value = cal.marts ? cal.marts_built / cal.marts : 0;
        return new Promise(function (resolve) { setTimeout(resolve, 2000); }).then(whenBuilt);
      });
    }
    Promise.all([api('/api/v1/dimensions'), whenBuilt()]).then(function (res) {
      dims = res[0];
      anchor = res[1].anchor;
      firstDay = res[1].first_day || '';
      asofText = res[1].last_day ? '数据截至 ' + anchor : '暂无治疗数据（今日 ' + anchor + '）';
      $('asof').textContent = asofText;
      if (!state.from || !state.to) { var r = preset('month'); state.from = state.from || r[0]; state.to = state.to || r[1]; }
      fillSelects();
      bindFilters();
      refresh();
      if (urlError) { $('notice').textContent = urlError; $('notice').hidden = false; }
      watchFreshness();
      setInterval(watchFreshness, 3000);
    }).catch(showError);
    $('detail-close').addEventListener('click', function () { $('detail').hidden = true; });
    $('detail-failing').addEventListener('change', function () { detail.page = 1; loadDetail(); });
    if ($('page-xlsx')) {
      $('page-xlsx').addEventListener('click', function () { exportPage('xlsx', $('page-xlsx')); });
      $('page-pdf').addEventListener('click', function () { exportPage('pdf', $('page-pdf')); });
      $('page-print').addEventListener('click', function () { printScope(); window.print(); });
    }
    $('detail-prev').addEventListener('click', function () { detail.page--; loadDetail(); });
    $('detail-next').addEventListener('click', function () { detail.page++; loadDetail(); });
    document.querySelectorAll('[data-export-local]').forEach(function (a) {
      a.addEventListener('click', function (e) { e.preventDefault(); exportLocal(a.dataset.exportLocal, a.dataset.exportLocal); });
    });
    window.addEventListener('resize', function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
  }

  start();
})();
