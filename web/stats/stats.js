// 售后数据统计 — the supervisors' statistics page (docs/stats.md).
//
// Plain browser JavaScript, no build step, no chart library: every chart is a few dozen lines of SVG
// drawn here. As in the console, everything from the server reaches the page through textContent
// or setAttribute, never innerHTML. The page uses the console's login (the same session cookie).
'use strict';

(() => {
  const API = '/api/v1';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const TZ = 'Asia/Shanghai'; // the policy's time zone: days are Shanghai days
  const REFRESH_MS = 5 * 60 * 1000; // alerts describe the present: keep them fresh

  // Stable colours per code, so a reason keeps its colour across charts and visits.
  const REASON_COLORS = {
    no_reason: '#2f6fd6', quality: '#e8833a', not_as_described: '#7c5cc4', wrong_item: '#0e9aa7',
    damaged_in_transit: '#c2410c', missing_item: '#d99a00', not_received: '#2f9e62', other: '#94a3b8',
  };
  const REMEDY_COLORS = {
    return_refund: '#2f6fd6', refund_only: '#0e9aa7', exchange: '#e8833a', repair: '#7c5cc4',
    resend: '#2f9e62', partial_refund: '#d99a00',
  };
  const TONE_COLORS = { warn: '#d99a00', info: '#2f6fd6', ok: '#2f9e62', danger: '#b42318', muted: '#94a3b8' };
  const STATUS_TONE = {
    awaiting_materials: 'warn', pending_review: 'warn', disputed: 'danger',
    approved: 'info', awaiting_return: 'info', returning: 'info', received: 'info',
    refunding: 'info', replacing: 'info', repairing: 'info',
    refunded: 'ok', completed: 'ok', rejected: 'muted', cancelled: 'muted', closed_timeout: 'muted',
  };
  const RATING_COLORS = { 1: '#b42318', 2: '#e8833a', 3: '#d99a00', 4: '#6cbf84', 5: '#2f9e62' };
  const PARTIES = { merchant: '商家', platform: '平台', agent: '客服' };
  const FALLBACK_ERRORS = {
    400: '请求内容不正确', 401: '请先登录', 403: '只有主管可以查看', 404: '请求的内容不存在', 422: '请求内容不正确',
  };

  const state = { me: null, from: '', to: '', granularity: 'day', data: null, token: 0, timer: null };
  const num = new Intl.NumberFormat('zh-CN');
  const money2 = new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // ---------------------------------------------------------------- DOM helpers

  const $ = (sel) => document.querySelector(sel);

  /** An HTML element; strings become text nodes, attributes go through setAttribute. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    setProps(node, props);
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** An SVG element; `title` becomes a <title> child, the browser's own tooltip. */
  function s(tag, props, ...children) {
    const node = document.createElementNS(SVGNS, tag);
    const { title, ...rest } = props || {};
    setProps(node, rest);
    if (title) {
      const t = document.createElementNS(SVGNS, 'title');
      t.textContent = title;
      node.append(t);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function setProps(node, props) {
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.setAttribute('class', value);
      else if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (!key.startsWith('on')) node.setAttribute(key, value === true ? '' : String(value));
    }
  }

  function fill(node, ...children) {
    node.replaceChildren();
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function showError(sel, message) {
    const el = $(sel);
    el.textContent = message || '';
    el.hidden = !message;
  }

  // ---------------------------------------------------------------- formatting

  const pct = (share, digits = 1) => (share === null || share === undefined ? '—' : `${(share * 100).toFixed(digits)}%`);
  const yuan = (amount) => `¥${money2.format(Number(amount || 0))}`;

  function yuanShort(v) {
    if (v >= 100000000) return `¥${(v / 100000000).toFixed(1)}亿`;
    if (v >= 10000) return `¥${(v / 10000).toFixed(v >= 100000 ? 0 : 1)}万`;
    return `¥${num.format(Math.round(v))}`;
  }

  function hoursText(hours) {
    if (hours === null || hours === undefined) return { value: '—', unit: '' };
    if (hours >= 72) return { value: (hours / 24).toFixed(1), unit: '天' };
    return { value: hours.toFixed(1), unit: '小时' };
  }

  const hoursShort = (hours) => (hours === null || hours === undefined ? '—'
    : hours >= 72 ? `${(hours / 24).toFixed(1)}天` : `${hours.toFixed(1)}小时`);

  /** Axis label of a period: "11-20" for a day; "2026年11月" for a month (the year only when it changes). */
  function periodAxis(period, i, periods) {
    if (period.length === 10) return period.slice(5);
    const [y, m] = period.split('-');
    const prev = periods[i - 1];
    return !prev || prev.slice(0, 4) !== y ? `${y}年${Number(m)}月` : `${Number(m)}月`;
  }

  const periodFull = (period) => (period.length === 10 ? period : `${period.slice(0, 4)}年${Number(period.slice(5))}月`);

  function todayLocal() {
    return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  }

  function addDays(iso, days) {
    const d = new Date(`${iso}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  /** Round steps (1, 2, 5 × 10^k) from 0 to just above max. */
  function niceTicks(max, count = 4) {
    if (max <= 0) return [0, 1];
    const raw = max / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((st) => st >= raw) || 10 * mag;
    const ticks = [];
    for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
    if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  }

  function empty(el, text) {
    fill(el, h('div', { class: 'empty', role: 'status' }, text));
  }

  function widthOf(el, fallback = 600) {
    return Math.max(Math.floor(el.clientWidth || fallback), 260);
  }

  // ---------------------------------------------------------------- charts

  /** Axes for the time-series charts: horizontal grid lines with y labels, and thinned x labels. */
  function axes(root, { m, pw, ph, ticks, top, periods, band, yFormat }) {
    const g = s('g', { class: 'ax', 'aria-hidden': 'true' });
    for (const t of ticks) {
      const y = m.t + ph - (t / top) * ph;
      g.append(s('line', { x1: m.l, x2: m.l + pw, y1: y, y2: y, class: t === 0 ? 'base' : '' }),
        s('text', { x: m.l - 6, y: y + 4, 'text-anchor': 'end', text: yFormat(t) }));
    }
    const every = Math.max(1, Math.ceil(periods.length / Math.max(1, Math.floor(pw / 52))));
    periods.forEach((p, i) => {
      if (i % every !== 0) return;
      g.append(s('text', { x: m.l + band * (i + 0.5), y: m.t + ph + 18, 'text-anchor': 'middle', text: periodAxis(p, i, periods) }));
    });
    root.append(g);
  }

  function svgRoot(width, height, label) {
    return s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label,
      preserveAspectRatio: 'xMinYMin meet' });
  }

  /** Stacked bars: requests per period, one colour per reason. */
  function stackedBars(el, legendEl, { periods, rows, stacks }) {
    const total = rows.reduce((a, r) => a + r.total, 0);
    if (!total) {
      empty(el, '所选时间段内没有售后申请');
      legendEl.replaceChildren();
      return;
    }
    const W = widthOf(el);
    const H = W < 520 ? 220 : 270;
    const m = { l: 44, r: 8, t: 12, b: 30 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const ticks = niceTicks(Math.max(...rows.map((r) => r.total)));
    const top = ticks[ticks.length - 1];
    const band = pw / periods.length;
    const bw = Math.max(1, Math.min(band * 0.72, 56));
    const root = svgRoot(W, H, `售后申请量柱状图，共${total}件`);
    axes(root, { m, pw, ph, ticks, top, periods, band, yFormat: (v) => num.format(v) });
    rows.forEach((row, i) => {
      const x0 = m.l + band * i;
      const parts = stacks.filter((st) => row.by_reason[st.code]).map((st) => `${st.label} ${row.by_reason[st.code]}件`);
      const g = s('g', { class: 'col' });
      g.append(s('rect', { class: 'hover-band', x: x0, y: m.t, width: band, height: ph,
        title: `${periodFull(row.period)}：共${row.total}件${parts.length ? `\n${parts.join('\n')}` : ''}` }));
      let y = m.t + ph;
      for (const st of stacks) {
        const v = row.by_reason[st.code] || 0;
        if (!v) continue;
        const hgt = (v / top) * ph;
        y -= hgt;
        g.append(s('rect', { class: 'seg-rect', x: x0 + (band - bw) / 2, y, width: bw, height: Math.max(hgt, 0.5), fill: st.color,
          title: `${periodFull(row.period)} · ${st.label}：${v}件（当期共${row.total}件）` }));
      }
      root.append(g);
    });
    fill(el, root);
    const sums = {};
    for (const row of rows) for (const [code, v] of Object.entries(row.by_reason)) sums[code] = (sums[code] || 0) + v;
    fill(legendEl, stacks.filter((st) => sums[st.code]).map((st) => h('li', null,
      h('span', { class: 'sw', style: `background:${st.color}` }), st.label, h('span', { class: 'num' }, `${num.format(sums[st.code])}件`))));
  }

  /** A line with an area: refund amounts per period. */
  function lineChart(el, { periods, rows }) {
    const values = rows.map((r) => Number(r.amount));
    if (!values.some((v) => v > 0)) {
      empty(el, '所选时间段内没有发放退款');
      return;
    }
    const W = widthOf(el);
    const H = W < 520 ? 200 : 240;
    const m = { l: 58, r: 10, t: 12, b: 30 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const ticks = niceTicks(Math.max(...values));
    const top = ticks[ticks.length - 1];
    const band = pw / periods.length;
    const X = (i) => m.l + band * (i + 0.5);
    const Y = (v) => m.t + ph - (v / top) * ph;
    const total = values.reduce((a, v) => a + v, 0);
    const root = svgRoot(W, H, `退款金额折线图，合计${yuan(total)}`);
    // One unit on the whole axis: ¥0, ¥0.5万, ¥1万 rather than ¥5,000 beside ¥1.0万.
    const yFormat = top >= 10000 ? (v) => (v ? `¥${Number((v / 10000).toFixed(2))}万` : '¥0') : yuanShort;
    axes(root, { m, pw, ph, ticks, top, periods, band, yFormat });
    const line = values.map((v, i) => `${i ? 'L' : 'M'}${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
    const area = `${line} L${X(values.length - 1).toFixed(1)},${Y(0)} L${X(0).toFixed(1)},${Y(0)} Z`;
    root.append(s('path', { d: area, fill: 'rgba(47, 111, 214, .12)', stroke: 'none' }),
      s('path', { d: line, fill: 'none', stroke: '#2f6fd6', 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round' }));
    rows.forEach((row, i) => {
      const tip = `${periodFull(row.period)}：退款${row.count}笔，共${yuan(row.amount)}`;
      root.append(s('rect', { class: 'hover-band', x: m.l + band * i, y: m.t, width: band, height: ph, title: tip }));
      if (periods.length <= 62 || values[i] > 0) {
        root.append(s('circle', { class: 'pt', cx: X(i), cy: Y(values[i]), r: periods.length > 62 ? 2 : 3, title: tip }));
      }
    });
    fill(el, root);
  }

  /** A donut of shares (stroke-dasharray circles: no arc maths, a full ring works too). */
  function donut(el, legendEl, items, caption) {
    const shown = items.filter((it) => it.value > 0);
    const total = shown.reduce((a, it) => a + it.value, 0);
    if (!total) {
      empty(el, '所选时间段内没有售后申请');
      legendEl.replaceChildren();
      return;
    }
    const W = 240;
    const R = 100;
    const width = 34;
    const C = 2 * Math.PI * R;
    const root = svgRoot(W, W, `${caption}环形图，共${total}件`);
    const g = s('g', { transform: `rotate(-90 ${W / 2} ${W / 2})` });
    g.append(s('circle', { cx: W / 2, cy: W / 2, r: R, fill: 'none', stroke: '#eef1f5', 'stroke-width': width }));
    let offset = 0;
    for (const it of shown) {
      const len = (it.value / total) * C;
      g.append(s('circle', { class: 'arc', cx: W / 2, cy: W / 2, r: R, fill: 'none', stroke: it.color, 'stroke-width': width,
        'stroke-dasharray': `${Math.max(len - (shown.length > 1 ? 1.5 : 0), 0.5)} ${C}`, 'stroke-dashoffset': -offset,
        title: `${it.label}：${it.value}件（${pct(it.value / total)}）` }));
      offset += len;
    }
    root.append(g,
      s('text', { class: 'donut-total', x: W / 2, y: W / 2 + 4, 'text-anchor': 'middle', text: num.format(total) }),
      s('text', { class: 'donut-caption', x: W / 2, y: W / 2 + 24, 'text-anchor': 'middle', text: '件申请' }));
    fill(el, root);
    fill(legendEl, shown.sort((a, b) => b.value - a.value).map((it) => h('li', null,
      h('span', { class: 'sw', style: `background:${it.color}` }), it.label,
      h('span', { class: 'num' }, `${num.format(it.value)}件 · ${pct(it.value / total)}`))));
  }

  /** Horizontal bars with a label column; `track` draws the 100 % background for shares. */
  function hbars(el, items, { max, valueText, track = false, label }) {
    if (!items.length) {
      empty(el, label);
      return;
    }
    const W = widthOf(el, 420);
    const rowH = 28;
    const labelW = Math.min(150, Math.round(W * 0.34));
    const valueW = 86;
    const barW = W - labelW - valueW - 8;
    const H = items.length * rowH + 6;
    const root = svgRoot(W, H, label);
    items.forEach((it, i) => {
      const y = 4 + i * rowH;
      const len = max > 0 ? (it.value / max) * barW : 0;
      const g = s('g', { class: 'hbar' });
      g.append(s('rect', { class: 'hover-band', x: 0, y, width: W, height: rowH - 2, title: it.title }));
      g.append(s('text', { class: 'lbl-strong', x: labelW - 8, y: y + rowH / 2 + 3, 'text-anchor': 'end', text: it.label }));
      if (track) g.append(s('rect', { x: labelW, y: y + 6, width: barW, height: rowH - 14, rx: 3, fill: '#eef1f5', title: it.title }));
      g.append(s('rect', { x: labelW, y: y + 6, width: Math.max(len, it.value > 0 ? 2 : 0), height: rowH - 14, rx: 3, fill: it.color, title: it.title }));
      g.append(s('text', { class: 'lbl-value', x: labelW + barW + 8, y: y + rowH / 2 + 3, text: valueText(it) }));
      root.append(g);
    });
    fill(el, root);
  }

  /** Ratings 1–5 as columns, red to green, with count and share above each. */
  function ratingBars(el, sat) {
    if (!sat.count) {
      empty(el, '所选时间段内没有买家评价');
      return;
    }
    const W = widthOf(el, 420);
    const H = 210;
    const m = { l: 12, r: 12, t: 26, b: 28 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const max = Math.max(...sat.distribution.map((d) => d.count));
    const band = pw / 5;
    const bw = Math.min(band * 0.6, 64);
    const root = svgRoot(W, H, `买家评分分布，平均${sat.average}分，共${sat.count}条评价`);
    root.append(s('line', { class: 'grid-line', x1: m.l, x2: W - m.r, y1: m.t + ph, y2: m.t + ph }));
    sat.distribution.forEach((d, i) => {
      const hgt = max ? (d.count / max) * ph : 0;
      const x = m.l + band * i + (band - bw) / 2;
      const tip = `${d.rating}星：${d.count}条（${pct(d.count / sat.count)}）`;
      root.append(s('rect', { class: 'hover-band', x: m.l + band * i, y: m.t - 20, width: band, height: ph + 20, title: tip }),
        s('rect', { class: 'seg-rect', x, y: m.t + ph - hgt, width: bw, height: Math.max(hgt, d.count ? 2 : 0), rx: 3, fill: RATING_COLORS[d.rating], title: tip }),
        s('text', { class: 'lbl-value', x: x + bw / 2, y: m.t + ph - hgt - 6, 'text-anchor': 'middle', text: d.count ? `${d.count} · ${pct(d.count / sat.count, 0)}` : '0' }),
        s('text', { class: 'lbl', x: x + bw / 2, y: m.t + ph + 18, 'text-anchor': 'middle', text: `${'★'.repeat(d.rating)}` }));
    });
    fill(el, root);
  }

  /** The review-time tile's gauge: average and p90 against the 24 h standard and the 48 h limit. */
  function reviewGauge(rt) {
    const W = 240;
    const H = 30;
    const scale = Math.max(rt.hard_hours * 1.25, (rt.p90_hours || 0) * 1.05, (rt.avg_hours || 0) * 1.05);
    const X = (v) => 2 + (v / scale) * (W - 4);
    const tone = rt.avg_hours > rt.hard_hours ? '#b42318' : rt.avg_hours > rt.standard_hours ? '#d99a00' : '#2f9e62';
    const root = svgRoot(W, H, `平均审核${hoursShort(rt.avg_hours)}，标准${rt.standard_hours}小时，上限${rt.hard_hours}小时`);
    root.append(s('rect', { x: 2, y: 6, width: W - 4, height: 8, rx: 4, fill: '#eef1f5' }));
    if (rt.avg_hours !== null) {
      root.append(s('rect', { x: 2, y: 6, width: Math.max(X(rt.avg_hours) - 2, 2), height: 8, rx: 4, fill: tone,
        title: `平均 ${hoursShort(rt.avg_hours)}` }));
    }
    if (rt.p90_hours !== null) {
      root.append(s('circle', { cx: X(rt.p90_hours), cy: 10, r: 4, fill: '#fff', stroke: '#1e293b', 'stroke-width': 1.5,
        title: `P90 ${hoursShort(rt.p90_hours)}` }));
    }
    root.append(
      s('line', { class: 'target-line', x1: X(rt.standard_hours), x2: X(rt.standard_hours), y1: 2, y2: 18, title: `标准：${rt.standard_hours}小时内审批` }),
      s('line', { class: 'hard-line', x1: X(rt.hard_hours), x2: X(rt.hard_hours), y1: 2, y2: 18, title: `上限：不超过${rt.hard_hours}小时` }),
      s('text', { class: 'lbl', x: X(rt.standard_hours), y: 29, 'text-anchor': 'middle', text: `标准${rt.standard_hours}h` }),
      s('text', { class: 'lbl', x: X(rt.hard_hours), y: 29, 'text-anchor': 'middle', text: `上限${rt.hard_hours}h` }));
    return root;
  }

  // ---------------------------------------------------------------- sections

  function renderAlerts(alerts) {
    const box = $('#alerts');
    const heading = h('h2', { id: 'alerts-title', class: 'sr-only' }, '当前预警');
    if (!alerts.length) {
      fill(box, heading, h('div', { class: 'alerts-ok', role: 'status' }, '当前没有预警：审核时长与各商品退款率均在正常范围内'));
      return;
    }
    fill(box, heading, alerts.map((a) => h('article', { class: `alert alert-${a.level}`, 'data-kind': a.kind, 'data-level': a.level },
      h('span', { class: 'alert-level' }, a.level === 'critical' ? '严重' : '警告'),
      h('div', { class: 'alert-title' }, a.title),
      h('div', null,
        h('div', { class: 'alert-msg' }, a.message),
        a.case_ids && a.case_ids.length ? h('div', { class: 'alert-ids' }, `待审核单号：${a.case_ids.slice(0, 8).join('、')}${a.case_ids.length > 8 ? ' 等' : ''}`) : null,
        a.sku ? h('div', { class: 'alert-ids' }, `商品编码：${a.sku}`) : null))));
  }

  function kpi({ label, value, unit, sub, tone, extra, id }) {
    return h('article', { class: `kpi${tone ? ` kpi-${tone}` : ''}`, id },
      h('div', { class: 'kpi-label' }, label),
      h('div', { class: 'kpi-value' }, value, unit ? h('span', { class: 'kpi-unit' }, unit) : null),
      sub ? h('div', { class: 'kpi-sub' }, sub) : null,
      extra || null);
  }

  function renderKpis(d) {
    const rt = d.review_time;
    const rtTone = rt.count === 0 ? null
      : (rt.avg_hours > rt.hard_hours || rt.p90_hours > rt.hard_hours) ? 'danger'
        : (rt.avg_hours > rt.standard_hours || rt.p90_hours > rt.standard_hours) ? 'warn' : 'ok';
    const avg = hoursText(rt.avg_hours);
    const res = hoursText(d.resolution_time.avg_hours);
    const slaTone = d.sla.share === null ? null : d.sla.share >= 0.95 ? 'ok' : d.sla.share >= 0.85 ? 'warn' : 'danger';
    const sat = d.satisfaction;
    fill($('#kpis'),
      kpi({ id: 'kpi-volume', label: '售后申请', value: num.format(d.volume.total), unit: '件',
        sub: `政策自动审核通过 ${num.format(rt.auto_approved)} 件` }),
      kpi({ id: 'kpi-refund', label: '退款金额', value: yuan(d.refunds.amount),
        sub: `${num.format(d.refunds.count)} 笔退款${d.refunds.average ? `，平均 ${yuan(d.refunds.average)}` : ''}` }),
      kpi({ id: 'kpi-review', label: '平均审核时长', value: avg.value, unit: avg.unit, tone: rtTone,
        sub: rt.count ? `中位数 ${hoursShort(rt.median_hours)} · P90 ${hoursShort(rt.p90_hours)} · ${rt.count}笔人工审核，`
          + `${pct(rt.within_standard_share, 0)}在${rt.standard_hours}小时内` : '区间内没有人工审核',
        extra: rt.count ? h('div', { class: 'kpi-gauge' }, reviewGauge(rt)) : null }),
      kpi({ id: 'kpi-resolution', label: '平均处理完结时长', value: res.value, unit: res.unit,
        sub: d.resolution_time.count ? `中位数 ${hoursShort(d.resolution_time.median_hours)} · P90 ${hoursShort(d.resolution_time.p90_hours)} · ${d.resolution_time.count}件已完结`
          : '区间内没有完结的售后单' }),
      kpi({ id: 'kpi-sla', label: '时限达标率', value: pct(d.sla.share), tone: slaTone,
        sub: d.sla.total ? `${num.format(d.sla.total)}个商家/平台环节，${num.format(d.sla.late)}个超时` : '区间内没有到期的环节' }),
      kpi({ id: 'kpi-handoff', label: '转人工率', value: pct(d.handoffs.case_rate),
        sub: `会话转人工率 ${pct(d.handoffs.conversation_rate)}，共转人工 ${num.format(d.handoffs.handoffs)} 次` }),
      kpi({ id: 'kpi-rating', label: '买家满意度', value: sat.average === null ? '—' : sat.average.toFixed(2), unit: sat.average === null ? '' : '/ 5',
        sub: sat.count ? `${num.format(sat.count)} 条评价，4星及以上 ${pct(sat.distribution.filter((x) => x.rating >= 4).reduce((a, x) => a + x.count, 0) / sat.count, 0)}` : '区间内没有评价' }));
  }

  function renderCharts(d) {
    const periods = d.range.periods;
    const byDay = d.range.granularity === 'day';
    // A month view of 24 Oct – 22 Nov shows two partial months: say so rather than let them look like slumps.
    const partial = !byDay && (!d.range.from.endsWith('-01') || addDays(d.range.to, 1).slice(8) !== '01');
    const note = partial ? '（首尾月份只含所选日期）' : '';
    $('#c-volume-sub').textContent = `按申请原因，按提交时间${byDay ? '逐日' : '逐月'}统计${note}`;
    $('#c-refund-sub').textContent = `合计 ${yuan(d.refunds.amount)}，按退款发放时间${byDay ? '逐日' : '逐月'}统计${note}`;
    stackedBars($('#c-volume'), $('#c-volume-legend'), {
      periods, rows: d.volume.series,
      stacks: d.volume.by_reason.map((r) => ({ code: r.code, label: r.label, color: REASON_COLORS[r.code] || '#64748b' })),
    });
    lineChart($('#c-refund'), { periods, rows: d.refunds.series });
    donut($('#c-remedy'), $('#c-remedy-legend'),
      d.volume.by_remedy.map((r) => ({ label: r.label, value: r.count, color: REMEDY_COLORS[r.code] || '#64748b' })), '处理方式');
    const statuses = d.volume.by_status.filter((x) => x.count > 0).sort((a, b) => b.count - a.count);
    const stMax = Math.max(0, ...statuses.map((x) => x.count));
    hbars($('#c-status'), statuses.map((x) => ({
      label: x.label, value: x.count, color: TONE_COLORS[STATUS_TONE[x.code] || 'muted'],
      title: `${x.label}：${x.count}件（${pct(x.count / d.volume.total)}）`,
    })), { max: stMax, valueText: (it) => `${num.format(it.value)}件`, label: '所选时间段内没有售后申请' });
    hbars($('#c-sla'), d.sla.by_step.map((st) => ({
      label: st.label, value: st.share || 0, total: st.total,
      color: st.share >= 0.95 ? '#2f9e62' : st.share >= 0.85 ? '#d99a00' : '#b42318',
      title: `${st.label}（${PARTIES[st.party] || st.party}）：${st.on_time}/${st.total}按时，${st.late}个超时`,
    })), { max: 1, track: true, valueText: (it) => `${pct(it.value, 0)} (${it.total})`, label: '所选时间段内没有到期的商家/平台环节' });
    $('#c-rating-sub').textContent = d.satisfaction.count ? `平均 ${d.satisfaction.average.toFixed(2)} 分，${d.satisfaction.count} 条评价` : '';
    ratingBars($('#c-rating'), d.satisfaction);
  }

  function render() {
    const d = state.data;
    if (!d) return;
    renderAlerts(d.alerts);
    renderKpis(d);
    renderCharts(d);
  }

  // ---------------------------------------------------------------- data

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

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
      const detail = data && typeof data.detail === 'string' ? data.detail
        : FALLBACK_ERRORS[res.status] || (res.status >= 500 ? '系统繁忙，请稍后再试' : `请求失败（${res.status}）`);
      throw new ApiError(res.status, detail);
    }
    return data;
  }

  async function load() {
    const token = ++state.token;
    const params = new URLSearchParams({ granularity: state.granularity });
    if (state.from) params.set('from', state.from);
    if (state.to) params.set('to', state.to);
    $('#main').setAttribute('aria-busy', 'true');
    $('#apply').disabled = true;
    try {
      const data = await api('GET', `/stats?${params}`);
      if (token !== state.token) return;
      state.data = data;
      state.from = data.range.from;
      state.to = data.range.to;
      state.granularity = data.range.granularity;
      syncControls();
      history.replaceState(null, '', `?from=${state.from}&to=${state.to}&granularity=${state.granularity}`);
      showError('#error', '');
      render();
      const at = new Date(data.generated_at);
      $('#updated').textContent = `更新于 ${at.toLocaleTimeString('zh-CN', { timeZone: TZ, hour: '2-digit', minute: '2-digit' })}`;
    } catch (err) {
      if (token !== state.token) return;
      if (err.status === 401) return showLogin('登录已过期，请重新登录');
      if (err.status === 403) return showDenied(err.message);
      showError('#error', err.message);
    } finally {
      if (token === state.token) {
        $('#main').setAttribute('aria-busy', 'false');
        $('#apply').disabled = false;
      }
    }
  }

  function syncControls() {
    const today = todayLocal();
    $('#from').value = state.from;
    $('#to').value = state.to;
    $('#from').max = today;
    for (const btn of document.querySelectorAll('.seg')) {
      btn.setAttribute('aria-checked', String(btn.dataset.granularity === state.granularity));
      btn.tabIndex = btn.dataset.granularity === state.granularity ? 0 : -1;
    }
  }

  function setRange(from, to) {
    state.from = from;
    state.to = to;
    syncControls();
    load();
  }

  function onPreset(event) {
    const btn = event.currentTarget;
    const today = todayLocal();
    if (btn.dataset.month) setRange(`${today.slice(0, 8)}01`, today);
    else setRange(addDays(today, 1 - Number(btn.dataset.days)), today);
  }

  function onGranularity(event) {
    const g = event.currentTarget.dataset.granularity;
    if (g === state.granularity) return;
    state.granularity = g;
    syncControls();
    load();
  }

  function onGranularityKey(event) {
    if (!['ArrowLeft', 'ArrowRight'].includes(event.key)) return;
    event.preventDefault();
    const next = state.granularity === 'day' ? 'month' : 'day';
    document.querySelector(`.seg[data-granularity="${next}"]`).focus();
    state.granularity = next;
    syncControls();
    load();
  }

  function onSubmit(event) {
    event.preventDefault();
    const from = $('#from').value;
    const to = $('#to').value;
    if (from && to && from > to) {
      showError('#error', '开始日期不能晚于结束日期');
      return;
    }
    state.from = from;
    state.to = to;
    load();
  }

  // ---------------------------------------------------------------- session

  function showOnly(id) {
    for (const view of ['#login-view', '#denied-view', '#app-view']) $(view).hidden = view !== id;
    $('#boot').hidden = true;
  }

  function showLogin(message) {
    stopTimer();
    state.me = null;
    showOnly('#login-view');
    showError('#login-error', message);
    const user = $('#login-username');
    (user.value ? $('#login-password') : user).focus();
  }

  function showDenied(message) {
    stopTimer();
    showOnly('#denied-view');
    $('#denied-text').textContent = `${message || '只有主管可以查看'}：售后数据统计仅对主管开放。`;
  }

  function start(me) {
    state.me = me;
    if (me.role !== 'supervisor') {
      showDenied('只有主管可以查看');
      return;
    }
    showOnly('#app-view');
    $('#me-name').textContent = `${me.display_name}（主管）`;
    syncControls();
    load();
    stopTimer();
    state.timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  }

  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  async function onLogin(event) {
    event.preventDefault();
    const username = $('#login-username').value.trim();
    const password = $('#login-password').value;
    if (!username || !password) {
      showError('#login-error', '请输入用户名和密码');
      return;
    }
    const button = $('#login-submit');
    button.disabled = true;
    button.textContent = '登录中…';
    showError('#login-error', '');
    try {
      const me = await api('POST', '/auth/login', { username, password });
      $('#login-password').value = '';
      start(me);
    } catch (err) {
      showError('#login-error', err.message);
      $('#login-password').select();
    } finally {
      button.disabled = false;
      button.textContent = '登录';
    }
  }

  async function onLogout() {
    try {
      await api('POST', '/auth/logout');
    } catch (_) { /* the local session ends either way */ }
    state.data = null;
    showLogin('');
  }

  function readQuery() {
    const q = new URLSearchParams(location.search);
    const date = /^\d{4}-\d{2}-\d{2}$/;
    if (date.test(q.get('from') || '')) state.from = q.get('from');
    if (date.test(q.get('to') || '')) state.to = q.get('to');
    if (['day', 'month'].includes(q.get('granularity'))) state.granularity = q.get('granularity');
  }

  async function boot() {
    readQuery();
    $('#login-form').addEventListener('submit', onLogin);
    $('#logout-btn').addEventListener('click', onLogout);
    $('#denied-logout').addEventListener('click', onLogout);
    $('#controls').addEventListener('submit', onSubmit);
    for (const btn of document.querySelectorAll('.chip')) btn.addEventListener('click', onPreset);
    for (const btn of document.querySelectorAll('.seg')) {
      btn.addEventListener('click', onGranularity);
      btn.addEventListener('keydown', onGranularityKey);
    }
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state.data) renderCharts(state.data); }, 150);
    });
    try {
      start(await api('GET', '/auth/me'));
    } catch (err) {
      if (err.status === 401 || err.status === 403) showLogin('');
      else showLogin(err.message);
    }
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
