// The waiting-room display: the department's calls in large type and the
// numbers waiting, numbers and masked names only, redrawn every 3 seconds.
// A failed refresh keeps the last board on screen and says so.
'use strict';

(() => {
  const { api, el, clock, state } = front;
  const dept = document.body.dataset.dept;
  let lastCall = '';

  function render(b) {
    document.getElementById('board-title').textContent = b.dept_name + ' · 候诊大屏';
    document.title = b.dept_name + ' · 候诊大屏';
    const calling = document.getElementById('calling');
    calling.replaceChildren(...(b.calling.length ? b.calling.map((e, i) => el('li', { class: i === 0 ? 'latest' : '', 'data-number': e.number },
      el('b', {}, e.number + ' 号'), el('span', {}, e.name), el('small', {}, e.status === 'in_treatment' ? '治疗中' : '请到治疗室')))
      : [el('li', { class: 'empty' }, '暂未叫号')]));
    const waiting = document.getElementById('waiting');
    waiting.replaceChildren(...(b.waiting.length ? b.waiting.map(e => el('li', { 'data-number': e.number }, el('b', {}, e.number), el('span', {}, e.name)))
      : [el('li', { class: 'empty' }, '暂无候诊')]));
    document.getElementById('waiting-count').textContent = '（' + b.waiting.length + ' 个号）'; // tickets: a patient may hold two
    document.getElementById('board-done').textContent = '今日已完成 ' + b.done + ' 人次';
    document.getElementById('board-updated').textContent = '更新于 ' + clock();
    const latest = b.calling.length ? b.calling[0].number + '@' + (b.calling[0].called_at || '') : '';
    if (latest && latest !== lastCall) {
      const li = calling.querySelector('.latest');
      if (li && lastCall) li.classList.add('flash');
    }
    lastCall = latest;
    state('');
    document.getElementById('content').hidden = false;
    document.body.dataset.ready = '1';
  }

  async function refresh() {
    try {
      render(await api('GET', '/api/v1/queue/board?dept=' + encodeURIComponent(dept)));
    } catch (e) {
      if (e.status === 401) { location.href = '/dash/login?next=' + encodeURIComponent(location.pathname + location.search); return; }
      state((document.body.dataset.ready ? '连接中断，显示的是 ' + document.getElementById('board-updated').textContent.replace('更新于 ', '') + ' 的信息，正在重试…' : '无法加载：' + e.message), 'error');
    }
  }
  setInterval(() => { document.getElementById('board-clock').textContent = clock(); }, 1000);
  refresh();
  setInterval(refresh, 3000);
})();
