// The waiting-room display: the department's calls in large type with the
// room to go to, and the numbers waiting, numbers and masked names only,
// redrawn every 3 seconds. A failed refresh keeps the last board on screen
// and says so. Opened by a display link (/queue/display/<token>) it needs no
// staff session; a revoked link says so. Each new call is spoken in Chinese
// (Web Speech API) unless the voice is switched off; browsers speak only
// after a tap on the page, so the switch is that tap (a kiosk browser can be
// started with --autoplay-policy=no-user-gesture-required instead).
'use strict';

(() => {
  const { api, el, clock, state } = front;
  const dept = document.body.dataset.dept;
  const token = document.body.dataset.token;
  let lastCall = '';
  let voice = localStorage.getItem('board-voice') === 'on';
  const voiceBtn = document.getElementById('voice');
  function showVoice() { voiceBtn.textContent = '语音播报：' + (voice ? '开' : '关'); voiceBtn.setAttribute('aria-pressed', String(voice)); }
  voiceBtn.addEventListener('click', () => {
    voice = !voice;
    localStorage.setItem('board-voice', voice ? 'on' : 'off');
    showVoice();
    if (voice) say('语音播报已开启');
  });
  showVoice();
  function say(text) {
    if (!voice || !('speechSynthesis' in window)) return;
    const u = new SpeechSynthesisUtterance(text);
    u.lang = 'zh-CN'; u.rate = 0.9;
    speechSynthesis.speak(u);
  }
  // The call as it is spoken: the number, the masked name with 某 where the
  // screen shows * (王某明: the room hears no more than the screen shows),
  // and the room.
  function callText(e) {
    return '请 ' + e.number + ' 号 ' + e.name.replace(/\*/g, '某') + ' 到 ' + (e.room || '治疗室') + ' 就诊';
  }

  function render(b) {
    document.getElementById('board-title').textContent = b.dept_name + ' · 候诊大屏';
    document.title = b.dept_name + ' · 候诊大屏';
    const calling = document.getElementById('calling');
    calling.replaceChildren(...(b.calling.length ? b.calling.map((e, i) => el('li', { class: i === 0 ? 'latest' : '', 'data-number': e.number },
      el('b', {}, e.number + ' 号'), el('span', {}, e.name), el('small', { class: 'room' }, e.status === 'in_treatment' ? '治疗中 · ' + (e.room || '') : '请到 ' + (e.room || '治疗室'))))
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
      if (lastCall !== '' || document.body.dataset.ready) say(callText(b.calling[0])); // not the call already on screen when the page opened
    }
    lastCall = latest;
    state('');
    document.getElementById('content').hidden = false;
    document.body.dataset.ready = '1';
  }

  async function refresh() {
    try {
      render(await api('GET', token ? '/api/v1/display/' + encodeURIComponent(token) + '/board' : '/api/v1/queue/board?dept=' + encodeURIComponent(dept)));
    } catch (e) {
      if (e.status === 401 && token) {
        document.getElementById('content').hidden = true;
        state('此大屏链接已撤销或无效，请在前台工作台重新生成。', 'error');
        return;
      }
      if (e.status === 401) { location.href = '/dash/login?next=' + encodeURIComponent(location.pathname + location.search); return; }
      state((document.body.dataset.ready ? '连接中断，显示的是 ' + document.getElementById('board-updated').textContent.replace('更新于 ', '') + ' 的信息，正在重试…' : '无法加载：' + e.message), 'error');
    }
  }
  setInterval(() => { document.getElementById('board-clock').textContent = clock(); }, 1000);
  refresh();
  setInterval(refresh, 3000);
})();
