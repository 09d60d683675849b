// 客服工作台 — the agent console (docs/gateway.md "Agent console").
//
// Plain browser JavaScript, no build step. Rule of the house: everything that comes from the
// server (summaries, messages, notes, file names, ids) reaches the page through textContent or
// setAttribute, never through innerHTML.
'use strict';

(() => {
  const API = '/api/v1';
  const WS_PATH = '/gateway/agent/ws';
  const TZ = 'Asia/Shanghai'; // the policy's time zone: every agent sees the same clock
  const QUEUE_URL = '/handoffs?status=open&status=claimed&limit=50';
  const POLL_MS = 30000;
  const TICK_MS = 15000;
  const PAGE = 200;
  const MONEY_RE = /^\d+(\.\d{1,2})?$/;
  const REPLY_MAX = 2000; // AgentReplyIn.text

  // Labels the vocabulary endpoint does not carry.
  const HANDOFF_REASONS = {
    complaint: '投诉/纠纷',
    needs_review: '需人工审核',
    requested: '买家要求人工',
    fallback: '机器人未理解',
    backend_down: '系统故障',
  };
  const AUTHORS = { buyer: '买家', bot: '机器人', agent: '客服', system: '系统' };
  const PARTIES = { buyer: '买家', merchant: '商家', platform: '平台', agent: '客服', system: '系统' };
  const DECISIONS = {
    eligible: '符合售后条件',
    needs_materials: '需补充凭证',
    needs_review: '需人工审核',
    ineligible: '不符合售后条件',
    duplicate: '已有进行中的售后单',
  };
  const PAYERS = { seller: '商家承担', buyer: '买家承担', insurance: '运费险承担' };
  const DEADLINE_STEPS = {
    review: '审核申请',
    refund_only_refund: '退款到账',
    supply_materials: '补充凭证',
    ship_return: '寄回商品',
    inspect: '验收退回商品',
    refund_after_receipt: '退款',
    send_replacement: '寄出换货商品',
    repair_first_reply: '维修首次答复',
    repair_finish: '完成维修',
  };
  const ACTIONS = {
    approve: { label: '通过', cls: 'btn-primary', done: '已审核通过' },
    reject: { label: '驳回', cls: 'btn-danger', done: '已驳回', form: 'reason' },
    receive: { label: '确认收货', cls: 'btn-primary', done: '已确认收货' },
    inspect_pass: { label: '验货通过', cls: 'btn-primary', done: '验货通过' },
    inspect_fail: { label: '验货不通过', cls: 'btn-danger', done: '验货不通过', form: 'reason' },
    refund: { label: '退款', cls: 'btn-primary', done: '退款已发放' },
    partial_refund: { label: '部分退款', cls: 'btn-secondary', done: '部分退款已发放', form: 'amount' },
    ship_replacement: { label: '已发出换货', cls: 'btn-primary', done: '换货已发出' },
    repair_done: { label: '维修完成', cls: 'btn-primary', done: '维修已完成' },
    complete: { label: '完结', cls: 'btn-secondary', done: '售后已完结' },
    note: { label: '添加备注', cls: 'btn-secondary', done: '备注已添加', form: 'reason' },
  };
  // Shown when the case does not say what an agent may do (older backends); the server decides anyway.
  const STATUS_ACTIONS = {
    pending_review: ['approve', 'reject'],
    disputed: ['approve', 'reject'],
    awaiting_return: ['receive'],
    returning: ['receive'],
    refunding: ['refund', 'partial_refund'],
  };
  const STATUS_TONE = {
    awaiting_materials: 'warn', pending_review: 'warn', disputed: 'danger',
    approved: 'info', awaiting_return: 'info', returning: 'info', received: 'info',
    refunding: 'info', replacing: 'info', repairing: 'info',
    refunded: 'ok', completed: 'ok',
    rejected: 'muted', cancelled: 'muted', closed_timeout: 'muted',
  };
  const DECISION_TONE = { eligible: 'ok', needs_materials: 'warn', needs_review: 'warn', ineligible: 'danger', duplicate: 'muted' };

  const state = {
    me: null,
    vocab: null,
    handoffs: [],
    total: 0,
    queueLoaded: false,
    queueBusy: false,
    queueAgain: false,
    selectedId: null,
    selected: null, // the selected handoff, kept even when it leaves the queue
    convId: null,
    messages: new Map(), // seq -> Message
    lastSeq: 0,
    mode: null,
    unread: new Set(), // conversation ids with buyer messages not yet looked at
    caseId: null,
    caseData: null,
    progress: null,
    caseError: null,
    openForm: null,
    busy: { claim: false, close: false, reply: false, action: false },
    pendingReply: null, // {client_id, text}: a resend after a failure reuses the client_id
    ws: null,
    wsAttempt: 0,
    timers: {},
    view: 'workspace',
    loadToken: 0,
    caseToken: 0,
  };

  // ---------------------------------------------------------------- helpers

  const $ = (sel) => document.querySelector(sel);

  /** Build an element. Strings become text nodes; attributes go through setAttribute. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = String(value);
        else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
        else if (key.startsWith('on')) continue; // never an inline handler
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === '') continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** Replace a node's children; null/undefined/false children are skipped, strings become text. */
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function setText(sel, text) {
    const node = typeof sel === 'string' ? $(sel) : sel;
    if (node) node.textContent = text;
  }

  function showError(sel, message) {
    const node = $(sel);
    if (!node) return;
    node.textContent = message || '';
    node.hidden = !message;
  }

  function toast(message, tone = 'ok') {
    const box = $('#toasts');
    const item = h('div', { class: `toast toast-${tone}`, role: tone === 'error' ? 'alert' : 'status' }, message);
    box.append(item);
    while (box.childElementCount > 3) box.firstElementChild.remove();
    setTimeout(() => item.classList.add('toast-out'), 3600);
    setTimeout(() => item.remove(), 4000);
  }

  const enc = encodeURIComponent;

  function newClientId() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function uploadUrl(uploadId) {
    return `${API}/uploads/${enc(uploadId)}/content`;
  }

  function money(value) {
    if (value === null || value === undefined || value === '') return '—';
    return `¥${value}`;
  }

  // ---- labels (the vocabulary endpoint first, the code itself as a last resort)

  const vocabLabel = (group, code) => (code && state.vocab && state.vocab[group] && state.vocab[group][code]) || code || '—';
  const reasonLabel = (code) => vocabLabel('reasons', code);
  const remedyLabel = (code) => vocabLabel('remedies', code);
  const materialLabel = (code) => vocabLabel('materials', code);
  const statusLabel = (code) => vocabLabel('statuses', code);
  const partyLabel = (code) => PARTIES[code] || code || '';

  // ---- time

  const partsFmt = new Intl.DateTimeFormat('zh-CN', {
    timeZone: TZ, year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });

  function toDate(value) {
    if (!value) return null;
    const d = value instanceof Date ? value : new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function parts(d) {
    const out = {};
    for (const p of partsFmt.formatToParts(d)) out[p.type] = p.value;
    return out;
  }

  /** "10:05" today, "11月22日 10:05" this year, "2025年11月22日 10:05" otherwise. */
  function fmtTime(value) {
    const d = toDate(value);
    if (!d) return '—';
    const p = parts(d);
    const n = parts(new Date());
    const hm = `${p.hour}:${p.minute}`;
    if (p.year === n.year && p.month === n.month && p.day === n.day) return `今天 ${hm}`;
    if (p.year === n.year) return `${p.month}月${p.day}日 ${hm}`;
    return `${p.year}年${p.month}月${p.day}日 ${hm}`;
  }

  function fmtDuration(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 1) return '不到 1 分钟';
    if (minutes < 60) return `${minutes} 分钟`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return minutes % 60 ? `${hours} 小时 ${minutes % 60} 分钟` : `${hours} 小时`;
    const days = Math.floor(hours / 24);
    return hours % 24 ? `${days} 天 ${hours % 24} 小时` : `${days} 天`;
  }

  function waitText(createdAt) {
    const d = toDate(createdAt);
    return d ? `等待 ${fmtDuration(Date.now() - d.getTime())}` : '';
  }

  function slaInfo(dueAt) {
    const d = toDate(dueAt);
    if (!d) return { text: '', late: false };
    const late = Date.now() > d.getTime();
    return late
      ? { text: `已超时 ${fmtDuration(Date.now() - d.getTime())}（应于 ${fmtTime(d)} 前处理）`, late: true }
      : { text: `${fmtTime(d)} 前处理`, late: false };
  }

  /** The queue's short form: "SLA 10:35" or "超时 3 分钟". */
  function slaShort(dueAt) {
    const d = toDate(dueAt);
    if (!d) return '';
    if (Date.now() > d.getTime()) return `超时 ${fmtDuration(Date.now() - d.getTime())}`;
    return `SLA ${fmtTime(d).replace('今天 ', '')}`;
  }

  // ---------------------------------------------------------------- REST

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  const FALLBACK_ERRORS = {
    400: '请求内容不正确', 401: '请先登录', 403: '没有权限执行该操作', 404: '请求的内容不存在',
    409: '操作冲突，请刷新后重试', 413: '请求内容过大', 422: '请求内容不正确', 429: '操作太频繁，请稍后再试',
  };

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(API + path, opts);
    } catch (_) {
      throw new ApiError(0, '网络连接失败，请检查网络后重试');
    }
    let data = null;
    if (res.status !== 204) {
      const text = await res.text().catch(() => '');
      if (text) {
        try { data = JSON.parse(text); } catch (_) { data = null; }
      }
    }
    if (!res.ok) {
      let detail = data && typeof data.detail === 'string' ? data.detail : null;
      if (!detail) detail = FALLBACK_ERRORS[res.status] || (res.status >= 500 ? '系统繁忙，请稍后再试' : `请求失败（${res.status}）`);
      if (res.status === 401 && !path.startsWith('/auth/')) sessionExpired();
      throw new ApiError(res.status, detail);
    }
    return data;
  }

  // ---------------------------------------------------------------- session

  async function boot() {
    wireStaticHandlers();
    try {
      const me = await api('GET', '/auth/me');
      startApp(me);
    } catch (err) {
      showLogin(err.status === 401 || err.status === 403 ? '' : err.message);
    } finally {
      $('#boot').hidden = true;
    }
  }

  function showLogin(message) {
    $('#app-view').hidden = true;
    $('#login-view').hidden = false;
    showError('#login-error', message);
    const user = $('#login-username');
    (user.value ? $('#login-password') : user).focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const username = $('#login-username').value.trim();
    const password = $('#login-password').value;
    if (!username || !password) {
      showError('#login-error', '请输入用户名和密码');
      (username ? $('#login-password') : $('#login-username')).focus();
      return;
    }
    const button = $('#login-submit');
    button.disabled = true;
    setText(button, '登录中…');
    showError('#login-error', '');
    try {
      const me = await api('POST', '/auth/login', { username, password });
      $('#login-password').value = '';
      startApp(me);
    } catch (err) {
      showError('#login-error', err.status === 401 && !err.message ? '用户名或密码错误' : err.message);
      $('#login-password').select();
    } finally {
      button.disabled = false;
      setText(button, '登录');
    }
  }

  async function onLogout() {
    try {
      await api('POST', '/auth/logout');
    } catch (_) { /* the local session ends either way */ }
    stopApp();
    showLogin('');
  }

  function sessionExpired() {
    if (!state.me) return;
    stopApp();
    showLogin('登录已过期，请重新登录');
  }

  function startApp(me) {
    state.me = me;
    $('#login-view').hidden = true;
    $('#app-view').hidden = false;
    const roleName = me.role === 'supervisor' ? '主管' : '客服';
    setText('#me-name', `${me.display_name || me.username}（${roleName}）`);
    $('#tab-supervisor').hidden = me.role !== 'supervisor';
    switchView('workspace');
    resetSelection();
    loadVocabulary();
    refreshQueue();
    connectWs();
    state.timers.poll = setInterval(() => {
      refreshQueue();
      if (state.view === 'supervisor') loadOverview();
    }, POLL_MS);
    state.timers.tick = setInterval(tick, TICK_MS);
    $('#main').focus({ preventScroll: true });
  }

  function stopApp() {
    state.me = null;
    for (const key of Object.keys(state.timers)) {
      clearInterval(state.timers[key]);
      clearTimeout(state.timers[key]);
    }
    state.timers = {};
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close(1000);
    setWsStatus('closed');
    state.handoffs = [];
    state.total = 0;
    state.queueLoaded = false;
    state.unread.clear();
    resetSelection();
    renderQueue();
    fill($('#sup-body'));
    fill($('#toasts'));
    const dlg = $('#lightbox');
    if (dlg.open) dlg.close();
  }

  async function loadVocabulary() {
    try {
      state.vocab = await api('GET', '/policy/vocabulary');
      renderCase();
      if (state.view === 'supervisor') loadOverview();
    } catch (_) {
      state.vocab = null; // codes are shown instead of labels
    }
  }

  // ---------------------------------------------------------------- views (tabs)

  function switchView(view) {
    if (view === 'supervisor' && (!state.me || state.me.role !== 'supervisor')) view = 'workspace';
    state.view = view;
    const sup = view === 'supervisor';
    $('#main').hidden = sup;
    $('#supervisor-panel').hidden = !sup;
    $('#tab-workspace').setAttribute('aria-selected', String(!sup));
    $('#tab-supervisor').setAttribute('aria-selected', String(sup));
    $('#tab-workspace').tabIndex = sup ? -1 : 0;
    $('#tab-supervisor').tabIndex = sup ? 0 : -1;
    if (sup) loadOverview();
  }

  function onTabKey(event) {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    const tabs = [$('#tab-workspace'), $('#tab-supervisor')].filter((t) => !t.hidden);
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const next = tabs[(i + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    switchView(next.id === 'tab-supervisor' ? 'supervisor' : 'workspace');
    event.preventDefault();
  }

  // ---------------------------------------------------------------- queue

  async function refreshQueue() {
    if (!state.me) return;
    if (state.queueBusy) {
      state.queueAgain = true;
      return;
    }
    state.queueBusy = true;
    try {
      const data = await api('GET', QUEUE_URL);
      if (!state.me) return;
      state.handoffs = Array.isArray(data && data.handoffs) ? data.handoffs : [];
      state.total = typeof data.total === 'number' ? data.total : state.handoffs.length;
      state.queueLoaded = true;
      showError('#queue-error', '');
      renderQueue();
      await syncSelected();
    } catch (err) {
      if (state.me) showError('#queue-error', `队列加载失败：${err.message}`);
    } finally {
      state.queueBusy = false;
      if (state.queueAgain) {
        state.queueAgain = false;
        refreshQueue();
      }
    }
  }

  function scheduleQueueRefresh() {
    clearTimeout(state.timers.queueSoon);
    state.timers.queueSoon = setTimeout(refreshQueue, 200);
  }

  /** Keep the selected handoff's status current, also when it has left the queue. */
  async function syncSelected() {
    if (!state.selectedId) return;
    const id = state.selectedId;
    const fresh = state.handoffs.find((x) => x.handoff_id === id);
    if (fresh) {
      state.selected = fresh;
    } else if (state.selected && state.selected.status !== 'closed') {
      try {
        const row = await api('GET', `/handoffs/${enc(id)}`);
        if (state.selectedId !== id) return;
        state.selected = row && row.handoff_id === id ? row : { ...state.selected, status: 'closed' };
      } catch (_) {
        if (state.selectedId !== id) return;
        // Not in the live queue and not readable: it is over.
        if (state.total <= state.handoffs.length) state.selected = { ...state.selected, status: 'closed' };
      }
    }
    renderConvHeader();
    renderHandoffPanel();
    updateReplyBox();
  }

  function statusText(ho) {
    if (ho.status === 'open') return '待认领';
    if (ho.status === 'claimed') return ho.agent === state.me.username ? '已由我认领' : `已由 ${ho.agent || '其他客服'} 认领`;
    if (ho.status === 'closed') return '已结束';
    return ho.status || '';
  }

  function statusBadge(ho) {
    const mine = ho.status === 'claimed' && ho.agent === state.me.username;
    const tone = ho.status === 'open' ? 'warn' : ho.status === 'claimed' ? (mine ? 'ok' : 'info') : 'muted';
    return h('span', { class: `badge badge-${tone}` }, statusText(ho));
  }

  function reasonTag(reason) {
    const known = Object.prototype.hasOwnProperty.call(HANDOFF_REASONS, reason);
    return h('span', { class: `tag ${known ? `tag-${reason}` : ''}` }, known ? HANDOFF_REASONS[reason] : reason || '转人工');
  }

  function renderQueue() {
    const list = $('#queue');
    const items = state.handoffs.map((ho) => {
      const selected = ho.handoff_id === state.selectedId;
      const sla = slaInfo(ho.sla_due_at);
      const unread = state.unread.has(ho.conversation_id) && !selected;
      const button = h('button', {
        type: 'button',
        class: `queue-item${selected ? ' is-selected' : ''}${sla.late ? ' is-late' : ''}`,
        'data-handoff-id': ho.handoff_id,
        'aria-current': selected ? 'true' : null,
        onclick: () => selectHandoff(ho.handoff_id),
      },
      h('span', { class: 'qi-row' },
        reasonTag(ho.reason),
        unread ? h('span', { class: 'unread-dot', title: '有新消息' }, h('span', { class: 'sr-only' }, '有新消息')) : null,
        h('span', { class: 'qi-spacer' }),
        statusBadge(ho)),
      h('span', { class: 'qi-row qi-ids' },
        h('span', { class: 'qi-buyer' }, ho.buyer_id ? `买家 ${ho.buyer_id}` : '匿名访客'),
        h('span', { class: 'qi-case' }, ho.case_id || '无售后单')),
      h('span', { class: 'qi-row qi-times' },
        h('span', { class: 'qi-wait', 'data-since': ho.created_at || '' }, waitText(ho.created_at)),
        ho.sla_due_at
          ? h('span', { class: `qi-sla${sla.late ? ' is-late' : ''}`, 'data-due': ho.sla_due_at, title: `处理时限 ${fmtTime(ho.sla_due_at)}` }, slaShort(ho.sla_due_at))
          : null));
      return h('li', null, button);
    });
    fill(list, ...items);
    setText('#queue-count', String(state.total || state.handoffs.length));
    $('#queue-empty').hidden = !state.queueLoaded || state.handoffs.length > 0;
  }

  /** Every TICK_MS: waiting times and SLA colours move on without a refetch. */
  function tick() {
    for (const node of document.querySelectorAll('.qi-wait[data-since]')) node.textContent = waitText(node.dataset.since);
    for (const node of document.querySelectorAll('.qi-sla[data-due]')) {
      const sla = slaInfo(node.dataset.due);
      node.textContent = slaShort(node.dataset.due);
      node.classList.toggle('is-late', sla.late);
      node.closest('.queue-item').classList.toggle('is-late', sla.late);
    }
    for (const node of document.querySelectorAll('[data-live-wait]')) node.textContent = waitText(node.dataset.liveWait);
    for (const node of document.querySelectorAll('[data-live-sla]')) {
      const sla = slaInfo(node.dataset.liveSla);
      node.textContent = sla.text;
      node.classList.toggle('is-late', sla.late);
    }
  }

  function onQueueKey(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp' && event.key !== 'Home' && event.key !== 'End') return;
    const items = [...document.querySelectorAll('#queue .queue-item')];
    if (!items.length) return;
    const i = items.indexOf(document.activeElement);
    let next;
    if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = items.length - 1;
    else if (event.key === 'ArrowDown') next = i < 0 ? 0 : Math.min(items.length - 1, i + 1);
    else next = i < 0 ? 0 : Math.max(0, i - 1);
    items[next].focus();
    event.preventDefault();
  }

  // ---------------------------------------------------------------- selection

  function resetSelection() {
    state.selectedId = null;
    state.selected = null;
    state.convId = null;
    state.messages = new Map();
    state.lastSeq = 0;
    state.mode = null;
    state.caseId = null;
    state.caseData = null;
    state.progress = null;
    state.caseError = null;
    state.openForm = null;
    state.pendingReply = null;
    state.loadToken += 1;
    state.caseToken += 1;
    fill($('#transcript'), h('p', { class: 'empty' }, '请从左侧队列选择一个会话'));
    $('#reply-input').value = '';
    showError('#conv-error', '');
    renderConvHeader();
    renderHandoffPanel();
    renderCase();
    updateReplyBox();
  }

  function selectHandoff(id) {
    const ho = state.handoffs.find((x) => x.handoff_id === id);
    if (!ho) return;
    const sameConv = state.convId === ho.conversation_id;
    const sameCase = state.caseId === (ho.case_id || null);
    state.selectedId = id;
    state.selected = ho;
    state.unread.delete(ho.conversation_id);
    showError('#conv-error', '');
    renderQueue();
    renderConvHeader();
    renderHandoffPanel();
    if (!sameConv) {
      state.convId = ho.conversation_id;
      state.messages = new Map();
      state.lastSeq = 0;
      state.mode = null;
      state.pendingReply = null;
      $('#reply-input').value = '';
      watch();
      loadTranscript();
    }
    if (!sameCase || !state.caseData) {
      state.caseId = ho.case_id || null;
      state.caseData = null;
      state.progress = null;
      state.openForm = null;
      loadCase();
    }
    updateReplyBox();
  }

  function mine(ho) {
    return !!(ho && state.me && ho.status === 'claimed' && ho.agent === state.me.username);
  }

  function renderConvHeader() {
    const ho = state.selected;
    const meta = $('#conv-meta');
    const claim = $('#claim-btn');
    const back = $('#handback-btn');
    if (!ho) {
      setText('#conv-title', '会话');
      fill(meta);
      claim.hidden = true;
      back.hidden = true;
      return;
    }
    setText('#conv-title', ho.buyer_id ? `买家 ${ho.buyer_id}` : '匿名访客');
    const modeText = state.mode === 'agent' ? '人工接待中' : state.mode === 'bot' ? '机器人接待中' : '';
    fill(meta,
      h('span', { class: 'mono' }, ho.conversation_id),
      modeText ? h('span', { class: `badge badge-${state.mode === 'agent' ? 'info' : 'muted'}` }, modeText) : null,
      statusBadge(ho),
    );
    const closed = ho.status === 'closed';
    claim.hidden = closed || mine(ho);
    claim.disabled = state.busy.claim;
    back.hidden = closed;
    back.disabled = state.busy.close;
  }

  function renderHandoffPanel() {
    const box = $('#handoff-panel');
    const ho = state.selected;
    if (!ho) {
      fill(box, h('p', { class: 'empty' }, '未选择会话'));
      return;
    }
    const sla = slaInfo(ho.sla_due_at);
    fill(box,
      h('div', { class: 'ho-head' }, reasonTag(ho.reason), h('span', { class: 'hint' }, `转人工 #${ho.handoff_id}`)),
      h('dl', { class: 'kv' },
        h('dt', null, '发起时间'), h('dd', null, fmtTime(ho.created_at), ' · ',
          ho.status === 'closed' ? '已结束' : h('span', { 'data-live-wait': ho.created_at || '' }, waitText(ho.created_at))),
        ho.sla_due_at ? [h('dt', null, '处理时限'), h('dd', null, h('span', { class: `sla-text${sla.late ? ' is-late' : ''}`, 'data-live-sla': ho.sla_due_at }, sla.text))] : null,
        h('dt', null, '状态'), h('dd', null, statusText(ho), ho.claimed_at ? `（${fmtTime(ho.claimed_at)}）` : ''),
        h('dt', null, '渠道'), h('dd', null, ho.channel || '—')),
      h('h3', { class: 'sub-title' }, '机器人摘要'),
      h('div', { class: 'summary' }, ho.summary || '（无摘要）'),
      ho.case_id ? null : h('p', { class: 'empty small' }, '该会话未关联售后单'),
    );
  }

  // ---------------------------------------------------------------- transcript

  async function loadTranscript() {
    const conv = state.convId;
    const token = ++state.loadToken;
    const box = $('#transcript');
    fill(box, h('p', { class: 'empty' }, '正在加载会话记录…'));
    try {
      await fetchMessagesAfter(0, conv, token);
      if (token !== state.loadToken) return;
      renderTranscript();
      box.scrollTop = box.scrollHeight;
    } catch (err) {
      if (token !== state.loadToken) return;
      fill(box, h('p', { class: 'empty' }, `会话记录加载失败：${err.message}`),
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', onclick: loadTranscript }, '重试'));
    }
  }

  /** Page through GET /conversations/{id}/messages from after_seq on. */
  async function fetchMessagesAfter(afterSeq, conv, token) {
    let after = afterSeq;
    for (let page = 0; page < 25; page += 1) {
      const data = await api('GET', `/conversations/${enc(conv)}/messages?after_seq=${after}&limit=${PAGE}`);
      if (token !== state.loadToken || conv !== state.convId) return;
      if (data && data.mode) state.mode = data.mode;
      const msgs = Array.isArray(data && data.messages) ? data.messages : [];
      let max = after;
      for (const m of msgs) {
        if (!state.messages.has(m.seq)) state.messages.set(m.seq, m);
        if (m.seq > max) max = m.seq;
      }
      if (msgs.length < PAGE || max <= after) break;
      after = max;
    }
    renderConvHeader();
  }

  /** After a reconnect or a send whose answer carried no message: fetch what we missed. */
  async function catchUp() {
    if (!state.convId) return;
    const conv = state.convId;
    const token = state.loadToken;
    const before = state.messages.size;
    try {
      await fetchMessagesAfter(state.lastSeq, conv, token);
      if (token === state.loadToken && state.messages.size !== before) renderTranscript(true);
    } catch (_) { /* the next event or poll tries again */ }
  }

  function renderTranscript(keepPosition) {
    const box = $('#transcript');
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const msgs = [...state.messages.values()].sort((a, b) => a.seq - b.seq);
    state.lastSeq = msgs.length ? msgs[msgs.length - 1].seq : 0;
    if (!msgs.length) {
      fill(box, h('p', { class: 'empty' }, '暂无消息'));
      return;
    }
    // The transcript holds the newest PAGE messages: say so when older ones exist.
    const truncated = msgs[0].seq > 1 && msgs.length >= PAGE;
    fill(box, truncated ? h('p', { class: 'hint older-hint' }, `仅显示最近 ${msgs.length} 条消息`) : null, ...msgs.map(messageNode));
    if (!keepPosition || nearBottom) box.scrollTop = box.scrollHeight;
  }

  function addMessage(m) {
    if (!m || typeof m.seq !== 'number' || state.messages.has(m.seq)) return;
    const box = $('#transcript');
    state.messages.set(m.seq, m);
    if (m.seq > state.lastSeq && box.querySelector('.msg')) {
      const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
      box.append(messageNode(m));
      state.lastSeq = m.seq;
      if (nearBottom || m.author === 'agent') box.scrollTop = box.scrollHeight;
    } else {
      renderTranscript(true);
    }
  }

  function messageNode(m) {
    const author = Object.prototype.hasOwnProperty.call(AUTHORS, m.author) ? m.author : 'system';
    const buttons = Array.isArray(m.buttons) ? m.buttons : [];
    const attachments = Array.isArray(m.attachments) ? m.attachments : [];
    return h('div', { class: `msg msg-${author}`, 'data-seq': m.seq, 'data-author': m.author || 'system' },
      h('div', { class: 'msg-meta' },
        h('span', { class: 'msg-author' }, AUTHORS[author]),
        h('time', { datetime: m.created_at || null }, fmtTime(m.created_at))),
      h('div', { class: 'msg-bubble' },
        m.text ? h('div', { class: 'msg-text' }, m.text) : null,
        attachments.length ? h('div', { class: 'msg-attachments' }, attachments.map(attachmentNode)) : null,
        buttons.length
          ? h('div', { class: 'msg-buttons', 'aria-label': '买家可选的快捷选项' },
            buttons.map((b) => h('span', { class: 'chip' }, (b && b.title) || '')))
          : null,
        customNode(m.custom)));
  }

  function attachmentNode(a) {
    if (!a || !a.upload_id) return null;
    const name = a.display_name || (a.material ? materialLabel(a.material) : '附件');
    return thumb({ uploadId: a.upload_id, kind: a.kind, name, cls: 'attach-thumb', caption: a.material ? materialLabel(a.material) : null });
  }

  function customNode(custom) {
    if (!custom || typeof custom !== 'object') return null;
    if (custom.type === 'progress_card' && custom.progress) {
      const p = custom.progress;
      const timeline = Array.isArray(p.timeline) ? p.timeline : [];
      return h('div', { class: 'card-inline' },
        h('div', { class: 'card-inline-head' }, '售后进度 ', h('span', { class: 'mono' }, p.case_id || ''), ' ',
          h('span', { class: `badge badge-${STATUS_TONE[p.status] || 'muted'}` }, p.status_label || statusLabel(p.status))),
        p.next_step && p.next_step.text ? h('div', { class: 'small' }, '下一步：', p.next_step.text) : null,
        timeline.length
          ? h('ol', { class: 'mini-timeline' }, timeline.slice(-4).map((t) => h('li', null, h('span', { class: 'hint' }, fmtTime(t.at)), ' ', t.label || t.status_label || '')))
          : null);
    }
    if (custom.type === 'materials_request') {
      const mats = Array.isArray(custom.materials) ? custom.materials : [];
      return h('div', { class: 'card-inline' },
        h('div', { class: 'card-inline-head' }, '请求买家补充凭证 ', h('span', { class: 'mono' }, custom.case_id || '')),
        h('ul', { class: 'plain small' }, mats.map((x) => h('li', null, x.label || materialLabel(x.code), `（已提供 ${x.have_count ?? 0}/${x.min_count ?? 1}）`))));
    }
    if (custom.type === 'request_human') return h('div', { class: 'hint' }, '（买家看到「转人工」按钮）');
    return null;
  }

  // ---- reply

  function updateReplyBox() {
    const input = $('#reply-input');
    const send = $('#reply-send');
    const ho = state.selected;
    const can = mine(ho);
    input.disabled = !can;
    send.disabled = !can || state.busy.reply || !input.value.trim();
    let placeholder = '请先选择会话';
    if (ho && ho.status === 'closed') placeholder = '会话已交还机器人，不能回复';
    else if (ho && ho.status === 'claimed' && !can) placeholder = `该会话已由 ${ho.agent || '其他客服'} 认领`;
    else if (ho && !can) placeholder = '认领后可回复买家';
    else if (can) placeholder = '输入回复内容…';
    input.placeholder = placeholder;
    setText('#reply-count', `${input.value.length}/${REPLY_MAX}`);
  }

  async function sendReply(event) {
    if (event) event.preventDefault();
    const input = $('#reply-input');
    const text = input.value.trim();
    if (!text || state.busy.reply || !mine(state.selected)) return;
    if (!state.pendingReply || state.pendingReply.text !== text) state.pendingReply = { client_id: newClientId(), text };
    const { client_id: clientId } = state.pendingReply;
    const conv = state.convId;
    state.busy.reply = true;
    updateReplyBox();
    showError('#conv-error', '');
    try {
      const res = await api('POST', `/conversations/${enc(conv)}/messages`, { client_id: clientId, text });
      if (state.pendingReply && state.pendingReply.client_id === clientId) state.pendingReply = null;
      if (conv === state.convId) {
        if (input.value.trim() === text) input.value = '';
        const msg = res && res.message && typeof res.message.seq === 'number' ? res.message
          : res && typeof res.seq === 'number' && res.author ? res : null;
        if (msg) addMessage(msg);
        else catchUp();
      }
    } catch (err) {
      if (conv === state.convId) showError('#conv-error', `发送失败：${err.message}`);
      if (err.status === 409) refreshQueue();
    } finally {
      state.busy.reply = false;
      updateReplyBox();
      if (conv === state.convId && !input.disabled) input.focus();
    }
  }

  function onReplyKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  }

  // ---- claim / hand back

  async function claim() {
    const ho = state.selected;
    if (!ho || state.busy.claim) return;
    state.busy.claim = true;
    renderConvHeader();
    showError('#conv-error', '');
    try {
      const res = await api('POST', `/handoffs/${enc(ho.handoff_id)}/claim`);
      if (state.selectedId === ho.handoff_id) {
        state.selected = res && res.handoff_id === ho.handoff_id
          ? res : { ...ho, status: 'claimed', agent: state.me.username, claimed_at: new Date().toISOString() };
        toast('已认领，可以回复买家了');
      }
    } catch (err) {
      if (state.selectedId === ho.handoff_id) showError('#conv-error', err.message);
    } finally {
      state.busy.claim = false;
      renderConvHeader();
      renderHandoffPanel();
      updateReplyBox();
      refreshQueue();
      if (mine(state.selected)) $('#reply-input').focus();
    }
  }

  async function handBack() {
    const ho = state.selected;
    if (!ho || state.busy.close) return;
    if (!window.confirm('确定将该会话交还机器人吗？\n买家会收到通知，之后由机器人继续接待。')) return;
    state.busy.close = true;
    renderConvHeader();
    showError('#conv-error', '');
    try {
      const res = await api('POST', `/handoffs/${enc(ho.handoff_id)}/close`);
      if (state.selectedId === ho.handoff_id) {
        state.selected = res && res.handoff_id === ho.handoff_id ? res : { ...ho, status: 'closed' };
        if (state.selected.status !== 'closed') state.selected = { ...state.selected, status: 'closed' };
        toast('已交还机器人');
      }
    } catch (err) {
      if (state.selectedId === ho.handoff_id) showError('#conv-error', err.message);
    } finally {
      state.busy.close = false;
      renderConvHeader();
      renderHandoffPanel();
      updateReplyBox();
      refreshQueue();
    }
  }

  // ---------------------------------------------------------------- case

  async function loadCase() {
    const caseId = state.caseId;
    const token = ++state.caseToken;
    state.caseError = null;
    if (!caseId) {
      renderCase();
      return;
    }
    renderCase(true);
    try {
      const [caseData, progress] = await Promise.all([
        api('GET', `/cases/${enc(caseId)}`),
        api('GET', `/cases/${enc(caseId)}/progress`).catch(() => null),
      ]);
      if (token !== state.caseToken) return;
      state.caseData = caseData;
      state.progress = progress;
    } catch (err) {
      if (token !== state.caseToken) return;
      state.caseError = err.message;
    }
    renderCase();
  }

  function scheduleCaseReload() {
    if (!state.caseId || state.busy.action) return;
    clearTimeout(state.timers.caseSoon);
    state.timers.caseSoon = setTimeout(loadCase, 400);
  }

  function section(title, ...body) {
    return h('section', { class: 'case-sec' }, h('h4', null, title), ...body);
  }

  function kv(pairs) {
    return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  }

  function renderCase(loading) {
    const panel = $('#case-panel');
    if (!state.caseId) {
      panel.hidden = true;
      fill(panel);
      return;
    }
    panel.hidden = false;
    const c = state.caseData;
    if (!c) {
      fill(panel,
        h('div', { class: 'case-head' }, h('h3', null, '售后单 ', h('span', { class: 'mono' }, state.caseId))),
        loading || !state.caseError
          ? h('p', { class: 'empty' }, '正在加载售后单…')
          : h('div', null, h('p', { class: 'inline-error', role: 'alert' }, `售后单加载失败：${state.caseError}`),
            h('button', { type: 'button', class: 'btn btn-secondary btn-sm', onclick: loadCase }, '重试')));
      return;
    }
    const d = c.decision || {};
    const deadline = (state.progress && state.progress.deadline) || c.deadline;
    fill(panel,
      h('div', { class: 'case-head' },
        h('h3', null, '售后单 ', h('span', { class: 'mono' }, c.case_id)),
        h('span', { id: 'case-status', class: `badge badge-${STATUS_TONE[c.status] || 'muted'}`, 'data-status': c.status },
          c.status_label || statusLabel(c.status)),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onclick: loadCase, 'aria-label': '刷新售后单' }, '刷新')),
      deadline ? deadlineNode(deadline) : null,
      actionsNode(c),
      kv([
        ['订单号', h('span', { class: 'mono' }, c.order_id)],
        ['商品', [c.item_title || '', ' ', h('span', { class: 'hint mono' }, c.item_id || '')]],
        ['数量', String(c.quantity ?? '—')],
        ['售后原因', reasonLabel(c.reason)],
        ['处理方式', remedyLabel(c.remedy)],
        c.return_tracking ? ['退货单号', h('span', { class: 'mono' }, c.return_tracking)] : null,
        ['申请时间', fmtTime(c.created_at)],
      ]),
      decisionNode(d),
      refundNode(c, d),
      missingNode(d),
      evidenceNode(c),
      notesNode(c),
      progressNode(state.progress),
      h('p', { class: 'hint small' }, '政策版本 ', c.policy_version || d.policy_version || '—'),
    );
  }

  function deadlineNode(dl) {
    const late = !!dl.overdue || (toDate(dl.due_at) && Date.now() > toDate(dl.due_at).getTime());
    return h('p', { class: `deadline${late ? ' is-late' : ''}` },
      '当前环节：', dl.label || DEADLINE_STEPS[dl.step] || dl.step || '',
      dl.party ? `（${partyLabel(dl.party)}）` : '',
      ' · 截止 ', fmtTime(dl.due_at), dl.estimated ? '（预计）' : '',
      late ? h('strong', null, ' 已超时') : null);
  }

  function decisionNode(d) {
    const rules = Array.isArray(d.rules) ? d.rules : [];
    const allowed = Array.isArray(d.allowed_remedies) ? d.allowed_remedies : [];
    return section('政策判定',
      h('p', null, h('span', { class: `badge badge-${DECISION_TONE[d.decision] || 'muted'}` }, DECISIONS[d.decision] || d.decision || '—'),
        d.days_since_delivery !== null && d.days_since_delivery !== undefined ? h('span', { class: 'hint' }, ` 签收第 ${d.days_since_delivery} 天`) : null),
      allowed.length ? h('p', { class: 'small' }, '可选处理方式：', allowed.map(remedyLabel).join('、')) : null,
      rules.length
        ? h('ul', { class: 'rules' }, rules.map((r) => h('li', { class: 'rule', 'data-rule-id': r.id },
          h('code', { class: 'rule-id' }, r.id), h('span', { class: 'rule-basis' }, r.basis || ''))))
        : h('p', { class: 'hint' }, '无适用规则'));
  }

  function refundNode(c, d) {
    const refund = d.refund;
    const payer = d.return_shipping_paid_by;
    if (!refund && !payer && (c.refund_amount === null || c.refund_amount === undefined)) return null;
    const b = (refund && refund.breakdown) || null;
    return section('退款',
      refund ? h('p', { class: 'refund-amount' }, '应退 ', h('strong', null, money(refund.amount)),
        refund.currency && refund.currency !== 'CNY' ? ` ${refund.currency}` : '') : null,
      c.refund_amount !== null && c.refund_amount !== undefined
        ? h('p', { class: 'small' }, '实际退款金额：', h('strong', null, money(c.refund_amount))) : null,
      b ? kv([
        ['商品金额', money(b.line_amount)],
        ['优惠分摊', `-${money(b.discount_share)}`],
        ['实付金额', money(b.item_paid)],
        ['退款件数', `${b.units} / ${b.of_units} 件`],
        ['商品退款', money(b.items_refund)],
        ['运费', money(b.shipping_fee)],
      ]) : null,
      payer ? h('p', { class: 'small' }, '退货运费：', PAYERS[payer] || payer) : null);
  }

  function missingNode(d) {
    const missing = Array.isArray(d.missing_materials) ? d.missing_materials : [];
    if (!missing.length) return null;
    return section('缺少的凭证',
      h('ul', { class: 'missing' }, missing.map((m) => h('li', null,
        h('strong', null, m.label || materialLabel(m.code)), `（${m.have_count ?? 0}/${m.min_count ?? 1}）`,
        m.hint ? h('div', { class: 'hint' }, m.hint) : null))));
  }

  function evidenceNode(c) {
    const mats = Array.isArray(c.materials) ? c.materials : [];
    if (!mats.length) return section('凭证', h('p', { class: 'hint' }, '买家尚未提交凭证'));
    const files = mats.filter((m) => m.upload_id);
    const others = mats.filter((m) => !m.upload_id);
    return section('凭证',
      files.length
        ? h('div', { class: 'evidence-grid' }, files.map((m) => thumb({
          uploadId: m.upload_id, kind: m.kind, name: m.display_name || m.label || materialLabel(m.code),
          cls: 'evidence-thumb', caption: m.label || materialLabel(m.code),
        })))
        : null,
      others.length
        ? h('ul', { class: 'plain text-materials' }, others.map((m) => h('li', null,
          h('span', { class: 'hint' }, m.label || materialLabel(m.code), '：'),
          m.text ? h('span', { class: 'pre' }, m.text)
            : m.seal_intact === true ? '买家已确认（密封包装完好）'
              : m.seal_intact === false ? '买家已确认（密封包装已拆封）' : '买家已确认')))
        : null);
  }

  function notesNode(c) {
    const notes = (Array.isArray(c.events) ? c.events : []).filter((e) => e.action === 'note');
    if (!notes.length) return null;
    return section('内部备注',
      h('ul', { class: 'notes' }, notes.map((e) => h('li', null,
        h('div', { class: 'hint' }, fmtTime(e.at), ' · ', partyLabel(e.actor_role), e.actor_id ? ` ${e.actor_id}` : ''),
        h('div', { class: 'pre' }, e.reason || '')))));
  }

  function progressNode(p) {
    if (!p) return section('处理进度', h('p', { class: 'hint' }, '进度暂不可用'));
    const stages = Array.isArray(p.stages) ? p.stages : [];
    const timeline = Array.isArray(p.timeline) ? p.timeline : [];
    const pen = p.overdue_penalty;
    return section('处理进度',
      stages.length
        ? h('ol', { class: 'stages' }, stages.map((s) => h('li', { class: `stage stage-${['done', 'current', 'todo'].includes(s.state) ? s.state : 'todo'}` },
          h('span', { class: 'sr-only' }, s.state === 'done' ? '已完成：' : s.state === 'current' ? '当前：' : '待进行：'), s.label || s.key)))
        : null,
      p.next_step && p.next_step.text
        ? h('p', { class: 'small' }, '下一步', p.next_step.party ? `（${partyLabel(p.next_step.party)}）` : '', '：', p.next_step.text) : null,
      pen ? h('p', { class: 'deadline is-late' }, `商家已超时 ${pen.days_late} 天，应赔付 `, money(pen.amount), pen.rate_per_day ? `（每日 ${pen.rate_per_day}）` : '') : null,
      p.return_address ? h('p', { class: 'small' }, '退货地址：', h('span', { class: 'pre' }, p.return_address)) : null,
      timeline.length
        ? h('ol', { class: 'timeline' }, timeline.map((t) => h('li', null,
          h('div', { class: 'tl-head' }, h('strong', null, t.label || ''), ' ',
            h('span', { class: `badge badge-${STATUS_TONE[t.status] || 'muted'}` }, t.status_label || statusLabel(t.status))),
          h('div', { class: 'hint' }, fmtTime(t.at), t.actor_role ? ` · ${partyLabel(t.actor_role)}` : ''),
          t.reason ? h('div', { class: 'pre small' }, t.reason) : null)))
        : h('p', { class: 'hint' }, '暂无记录'));
  }

  // ---- actions

  // A partial refund (or a review that fixes the amount) is approved with the amount a person decides.
  function manualAmount(c) {
    const rules = (c && c.decision && Array.isArray(c.decision.rules)) ? c.decision.rules : [];
    return !!c && (c.remedy === 'partial_refund' || rules.some((r) => r.id === 'R-REVIEW-MANUAL-AMOUNT'));
  }

  function formOf(action) {
    if (action === 'approve' && manualAmount(state.caseData)) return 'amount';
    return ACTIONS[action].form;
  }

  function actionsNode(c) {
    // The case lists what an agent may do now (the backend's transition table); a partial refund is a refund
    // with an amount, and a note is always possible.
    const allowed = Array.isArray(c.agent_actions) ? c.agent_actions : (STATUS_ACTIONS[c.status] || []);
    const actions = allowed.filter((a) => ACTIONS[a] && a !== 'note');
    if (actions.includes('refund')) actions.push('partial_refund');
    actions.push('note');
    const form = state.openForm && actions.includes(state.openForm) ? actionForm(state.openForm, c) : null;
    return h('div', { class: 'case-actions' },
      h('div', { class: 'action-bar', role: 'group', 'aria-label': '售后单操作' }, actions.map((a) => h('button', {
        type: 'button',
        class: `btn btn-sm ${ACTIONS[a].cls}${state.openForm === a ? ' is-active' : ''}`,
        'data-action': a,
        disabled: state.busy.action,
        'aria-expanded': formOf(a) ? String(state.openForm === a) : null,
        'aria-controls': formOf(a) ? 'action-form' : null,
        onclick: () => onAction(a),
      }, ACTIONS[a].label))),
      form,
      h('p', { id: 'case-error', class: 'inline-error', role: 'alert', hidden: !state.actionError }, state.actionError || ''));
  }

  function actionForm(action, c) {
    const refund = c.decision && c.decision.refund;
    const fields = [];
    if (formOf(action) === 'amount') {
      fields.push(h('label', { for: 'action-amount' }, '退款金额（元）'),
        h('input', { id: 'action-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '例如 30.00', required: true, 'aria-describedby': 'action-amount-hint' }),
        h('span', { id: 'action-amount-hint', class: 'hint' }, refund && refund.amount ? `应退金额 ${money(refund.amount)}，最多两位小数` : '最多两位小数'));
    } else {
      const label = action === 'reject' ? '驳回原因（必填）' : '备注内容';
      fields.push(h('label', { for: 'action-reason' }, label),
        h('textarea', { id: 'action-reason', rows: '3', maxlength: '500', required: true }));
    }
    const submitLabel = { reject: '确认驳回', note: '保存备注', partial_refund: '确认部分退款', approve: '按此金额通过' }[action]
      || '确认';
    return h('form', { id: 'action-form', class: 'action-form', 'data-for': action, novalidate: true, onsubmit: (e) => { e.preventDefault(); submitActionForm(action); } },
      fields,
      h('div', { class: 'form-row' },
        h('button', { id: 'action-submit', type: 'submit', class: `btn btn-sm ${action === 'reject' ? 'btn-danger' : 'btn-primary'}`, disabled: state.busy.action }, submitLabel),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onclick: () => { state.openForm = null; state.actionError = null; renderCase(); focusAction(action); } }, '取消')));
  }

  function focusAction(action) {
    const btn = document.querySelector(`#case-panel button[data-action="${action}"]`);
    if (btn) btn.focus();
  }

  function onAction(action) {
    state.actionError = null;
    if (formOf(action)) {
      state.openForm = state.openForm === action ? null : action;
      renderCase();
      const field = $('#action-amount') || $('#action-reason');
      if (state.openForm && field) field.focus();
      else focusAction(action);
      return;
    }
    state.openForm = null;
    runTransition(action, { action });
  }

  function submitActionForm(action) {
    if (formOf(action) === 'amount') {
      const input = $('#action-amount');
      const value = input.value.trim();
      if (!MONEY_RE.test(value)) {
        setActionError('请输入正确的金额，例如 30 或 30.50（最多两位小数）', input);
        return;
      }
      // money travels as a string; a partial refund is a refund with an amount
      runTransition(action, { action: action === 'partial_refund' ? 'refund' : action, refund_amount: value });
    } else {
      const input = $('#action-reason');
      const text = input.value.trim();
      if (!text) {
        setActionError(action === 'reject' ? '请填写驳回原因' : '请填写备注内容', input);
        return;
      }
      runTransition(action, { action, reason: text });
    }
  }

  function setActionError(message, input) {
    state.actionError = message;
    const p = $('#case-error');
    if (p) {
      p.textContent = message;
      p.hidden = !message;
    }
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }

  async function runTransition(action, body) {
    const caseId = state.caseId;
    if (!caseId || state.busy.action) return;
    state.busy.action = true;
    state.actionError = null;
    const draft = { amount: $('#action-amount') && $('#action-amount').value, reason: $('#action-reason') && $('#action-reason').value };
    renderCase();
    restoreDraft(draft);
    try {
      await api('POST', `/cases/${enc(caseId)}/transitions`, body);
      if (caseId !== state.caseId) return;
      state.openForm = null;
      toast(ACTIONS[action].done);
      state.busy.action = false;
      await loadCase();
      focusAction(action === 'partial_refund' ? 'note' : action);
    } catch (err) {
      if (caseId !== state.caseId) return;
      state.busy.action = false;
      state.actionError = err.message;
      renderCase();
      restoreDraft(draft);
      const field = $('#action-amount') || $('#action-reason');
      if (field) field.focus();
      else focusAction(action);
    } finally {
      state.busy.action = false;
    }
  }

  function restoreDraft(draft) {
    if ($('#action-amount') && draft.amount) $('#action-amount').value = draft.amount;
    if ($('#action-reason') && draft.reason) $('#action-reason').value = draft.reason;
  }

  // ---------------------------------------------------------------- evidence / lightbox

  function thumb({ uploadId, kind, name, cls, caption }) {
    const src = uploadUrl(uploadId);
    const isVideo = kind === 'video';
    return h('button', {
      type: 'button', class: `thumb ${cls}`, 'data-upload-id': uploadId, title: name,
      'aria-label': `查看${isVideo ? '视频' : '图片'}：${name}`,
      onclick: (e) => openLightbox({ src, kind: isVideo ? 'video' : 'image', title: name, opener: e.currentTarget }),
    },
    isVideo
      ? h('span', { class: 'thumb-video', 'aria-hidden': 'true' }, '▶')
      : h('img', { src, alt: '', loading: 'lazy', decoding: 'async' }),
    caption ? h('span', { class: 'thumb-caption' }, caption) : null);
  }

  let lightboxOpener = null;

  function openLightbox({ src, kind, title, opener }) {
    const dlg = $('#lightbox');
    lightboxOpener = opener || null;
    setText('#lightbox-title', title || '');
    $('#lightbox-open').setAttribute('href', src);
    fill($('#lightbox-body'), kind === 'video'
      ? h('video', { src, controls: true, preload: 'metadata' })
      : h('img', { src, alt: title || '凭证图片' }));
    if (!dlg.open) dlg.showModal();
    $('#lightbox-close').focus();
  }

  function onLightboxClose() {
    fill($('#lightbox-body'));
    if (lightboxOpener && document.contains(lightboxOpener)) lightboxOpener.focus();
    lightboxOpener = null;
  }

  // ---------------------------------------------------------------- supervisor

  async function loadOverview() {
    if (!state.me || state.me.role !== 'supervisor') return;
    if (state.overviewBusy) return;
    state.overviewBusy = true;
    const body = $('#sup-body');
    if (!body.childElementCount) fill(body, h('p', { class: 'empty' }, '正在加载…'));
    try {
      const data = await api('GET', '/supervisor/overview');
      if (!state.me) return;
      showError('#sup-error', '');
      renderOverview(data || {});
      setText('#sup-updated', `更新于 ${fmtTime(new Date())}`);
    } catch (err) {
      showError('#sup-error', `加载失败：${err.message}`);
    } finally {
      state.overviewBusy = false;
    }
  }

  function scheduleOverview() {
    if (state.view !== 'supervisor') return;
    clearTimeout(state.timers.supSoon);
    state.timers.supSoon = setTimeout(loadOverview, 300);
  }

  function renderOverview(data) {
    const queue = data.queue || {};
    const agents = Array.isArray(data.agents) ? data.agents : [];
    const overdue = Array.isArray(data.overdue_cases) ? data.overdue_cases : [];
    const claimedCount = (a) => (Array.isArray(a.claimed) ? a.claimed.length : Number(a.claimed) || 0);
    fill($('#sup-body'),
      h('div', { class: 'stat-row' },
        stat('待认领', queue.open ?? 0, (queue.open || 0) > 0 ? 'warn' : ''),
        stat('处理中', queue.claimed ?? 0, ''),
        stat('客服人数', agents.length, ''),
        stat('超时售后单', overdue.length, overdue.length ? 'danger' : '')),
      h('div', { class: 'sup-grid' },
        h('section', { class: 'sup-card', 'aria-labelledby': 'sup-agents-title' },
          h('h3', { id: 'sup-agents-title' }, '客服负载'),
          agents.length
            ? h('table', { class: 'table', id: 'sup-agents' },
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, '客服'), h('th', { scope: 'col' }, '账号'), h('th', { scope: 'col', class: 'num' }, '当前认领'))),
              h('tbody', null, agents.map((a) => h('tr', { 'data-username': a.username },
                h('td', null, a.display_name || a.username, a.role === 'supervisor' ? h('span', { class: 'badge badge-muted role-badge' }, '主管') : null),
                h('td', { class: 'mono' }, a.username),
                h('td', { class: 'num' }, h('span', { class: `load load-${Math.min(claimedCount(a), 5)}` }, String(claimedCount(a))))))))
            : h('p', { class: 'empty' }, '暂无客服数据')),
        h('section', { class: 'sup-card', 'aria-labelledby': 'sup-overdue-title' },
          h('h3', { id: 'sup-overdue-title' }, '超时售后单'),
          overdue.length
            ? h('table', { class: 'table', id: 'sup-overdue' },
              h('thead', null, h('tr', null, ['售后单号', '状态', '超时环节', '截止时间', '超时'].map((t, i) => h('th', { scope: 'col', class: i === 4 ? 'num' : null }, t)))),
              h('tbody', null, overdue.map((o) => h('tr', { 'data-case-id': o.case_id },
                h('td', { class: 'mono' }, o.case_id),
                h('td', null, h('span', { class: `badge badge-${STATUS_TONE[o.status] || 'muted'}` }, statusLabel(o.status))),
                h('td', null, DEADLINE_STEPS[o.due_step] || o.due_step || '—'),
                h('td', null, fmtTime(o.due_at)),
                h('td', { class: 'num is-late' }, `${o.days_late ?? '?'} 天`)))))
            : h('p', { class: 'empty' }, '没有超时的售后单'))));
  }

  function stat(label, value, tone) {
    return h('div', { class: `stat${tone ? ` stat-${tone}` : ''}` }, h('div', { class: 'stat-value' }, String(value)), h('div', { class: 'stat-label' }, label));
  }

  // ---------------------------------------------------------------- agent WebSocket

  function setWsStatus(s) {
    const node = $('#ws-status');
    node.dataset.state = s;
    node.textContent = s === 'open' ? '实时' : s === 'connecting' ? '连接中…' : '已断开，正在重连';
  }

  function connectWs() {
    if (!state.me) return;
    clearTimeout(state.timers.ws);
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${WS_PATH}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    let opened = false;
    setWsStatus('connecting');
    ws.onopen = () => {
      if (state.ws !== ws) return;
      opened = true;
      state.wsAttempt = 0;
      setWsStatus('open');
      clearInterval(state.timers.ping);
      state.timers.ping = setInterval(() => wsSend({ type: 'ping' }), 25000); // keeps idle proxies from dropping us
      watch();
      refreshQueue(); // anything that happened while we were away
      catchUp();
    };
    ws.onmessage = (event) => {
      if (state.ws !== ws) return;
      let data;
      try { data = JSON.parse(event.data); } catch (_) { return; }
      if (data && typeof data === 'object') onWsEvent(data);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      clearInterval(state.timers.ping);
      if (!state.me) return;
      setWsStatus('closed');
      if (!opened || (event.code >= 4400 && event.code < 4500)) {
        // Refused (a handshake refusal reaches us as 1006) or closed for a 44xx reason: maybe the
        // session. Ask the REST side, which shows the login form on 401.
        api('GET', '/auth/me').then(scheduleReconnect, (err) => { if (err.status === 401) sessionExpired(); else scheduleReconnect(); });
      } else {
        scheduleReconnect();
      }
    };
  }

  function scheduleReconnect() {
    if (!state.me) return;
    clearTimeout(state.timers.ws);
    const base = Math.min(30000, 1000 * 2 ** state.wsAttempt);
    state.wsAttempt = Math.min(state.wsAttempt + 1, 10);
    state.timers.ws = setTimeout(connectWs, base * (0.7 + Math.random() * 0.6));
  }

  function wsSend(obj) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(obj));
  }

  function watch() {
    if (state.convId) wsSend({ type: 'watch', conversation_id: state.convId });
  }

  function onWsEvent(data) {
    switch (data.type) {
      case 'queue_changed':
        scheduleQueueRefresh();
        scheduleOverview();
        break;
      case 'message': {
        const m = data.message;
        if (!m) break;
        if (data.conversation_id === state.convId) {
          addMessage(m);
          if (m.custom && (m.custom.type === 'progress_card' || m.custom.type === 'materials_request')) scheduleCaseReload();
          else if (m.author === 'buyer' && Array.isArray(m.attachments) && m.attachments.length) scheduleCaseReload();
        } else if (m.author === 'buyer' && state.handoffs.some((x) => x.conversation_id === data.conversation_id)) {
          state.unread.add(data.conversation_id);
          renderQueue();
        }
        break;
      }
      case 'mode':
        if (data.conversation_id === state.convId) {
          state.mode = data.mode;
          renderConvHeader();
        }
        scheduleQueueRefresh();
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- wiring

  function wireStaticHandlers() {
    $('#login-form').addEventListener('submit', onLogin);
    $('#logout-btn').addEventListener('click', onLogout);
    $('#queue-refresh').addEventListener('click', refreshQueue);
    $('#queue').addEventListener('keydown', onQueueKey);
    $('#claim-btn').addEventListener('click', claim);
    $('#handback-btn').addEventListener('click', handBack);
    $('#reply-form').addEventListener('submit', sendReply);
    $('#reply-input').addEventListener('keydown', onReplyKey);
    $('#reply-input').addEventListener('input', updateReplyBox);
    $('#tab-workspace').addEventListener('click', () => switchView('workspace'));
    $('#tab-supervisor').addEventListener('click', () => switchView('supervisor'));
    $('#tab-workspace').addEventListener('keydown', onTabKey);
    $('#tab-supervisor').addEventListener('keydown', onTabKey);
    $('#sup-refresh').addEventListener('click', loadOverview);
    const dlg = $('#lightbox');
    $('#lightbox-close').addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', onLightboxClose);
    dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });
    $('#case-panel').addEventListener('input', (e) => {
      if (e.target && e.target.removeAttribute) e.target.removeAttribute('aria-invalid');
    });
    window.addEventListener('online', () => { if (state.me && !state.ws) connectWs(); });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && state.me) {
        refreshQueue();
        tick();
        if (!state.ws) connectWs();
      }
    });
  }

  boot();
})();
