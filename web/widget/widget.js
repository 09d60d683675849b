/*
 * 售后客服 — the buyer-facing chat widget (docs/gateway.md is the protocol it speaks).
 *
 * Plain modern JavaScript, no build step and no dependencies, so a shop can embed it with one tag:
 *
 *   <script src="/widget/widget.js" defer></script>
 *   <script>AftersalesWidget.mount({token, gateway: location.origin})</script>
 *
 * or   <script src="/widget/widget.js" data-token="..." data-auto-mount></script>
 *
 * Safety rule for this file: text from the server (messages, file names, labels) only ever reaches
 * the page through textContent / attributes — never innerHTML — so a message cannot inject markup.
 */
(function () {
  "use strict";

  if (window.AftersalesWidget) return; // loaded twice: keep the first copy and its instances

  var SCRIPT = document.currentScript;
  var TZ = "Asia/Shanghai";
  var MAX_TEXT = 1000;
  var MAX_ATTACHMENTS = 9;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  var PING_EVERY_MS = 25000;
  var TYPING_TIMEOUT_MS = 30000; // a lost "typing off" must not leave the dots forever

  var STR = {
    title: "售后客服",
    subtitle: "通常几秒内回复",
    open: "打开售后客服",
    close: "关闭",
    placeholder: "请描述您的问题…",
    inputLabel: "输入消息",
    send: "发送",
    connecting: "连接中…",
    reconnecting: "已断开，正在重连…",
    agentJoined: "人工客服已接入",
    agent: "人工客服",
    bot: "智能助手",
    typing: "客服正在输入",
    human: "转人工",
    humanSent: "已申请转人工",
    pending: "等待发送",
    failed: "发送失败",
    noToken: "无法连接客服，请稍后刷新页面重试",
    tooLong: "消息太长了，请分几次发送（最多1000字）",
  };

  /* ---------- small DOM helpers ---------- */

  // el("div", {class: "x", text: "hi", "aria-label": "y"}, [children]) — text always via textContent.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === undefined || value === null || value === false) return;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else if (key.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Icons are built from constant path data (no markup strings at all, so nothing to audit).
  function icon(pathData, size) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var ICON = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8.4L4 21.5V18a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z",
    send: "M3 20.5V14l9-2-9-2V3.5L22 12z",
    camera: "M9 3h6l1.8 2H20a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h3.2zm3 14a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0-2a2.5 2.5 0 1 1 0-5 2.5 2.5 0 0 1 0 5z",
    image: "M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 12.5V18h16v-3l-4-4-5 5-3-3zM8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z",
    file: "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5z",
    person: "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v2h16v-2c0-2.8-3.6-5-8-5z",
  };

  var uid = 0;
  function nextId(prefix) {
    uid += 1;
    return prefix + "-" + uid;
  }

  // client_id must be 1–64 chars of [A-Za-z0-9_-]; a UUID fits, the fallback is for old/insecure contexts.
  function makeClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "c_" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* ---------- time formatting (always China time, whatever the buyer's device says) ---------- */

  var partsFormatter = null;
  function shanghaiParts(value) {
    var date = value instanceof Date ? value : new Date(value);
    if (isNaN(date.getTime())) return null;
    if (!partsFormatter) {
      partsFormatter = new Intl.DateTimeFormat("zh-CN", {
        timeZone: TZ, year: "numeric", month: "numeric", day: "numeric",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    }
    var out = {};
    partsFormatter.formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  // "11月25日 18:00"
  function formatDateTime(value) {
    var p = shanghaiParts(value);
    if (!p) return "";
    return Number(p.month) + "月" + Number(p.day) + "日 " + pad2(p.hour) + ":" + pad2(p.minute);
  }

  // "18:00" today, "11月25日 18:00" otherwise — for the small time under a bubble.
  function formatMessageTime(value) {
    var p = shanghaiParts(value);
    var today = shanghaiParts(new Date());
    if (!p) return "";
    if (today && p.year === today.year && p.month === today.month && p.day === today.day) {
      return pad2(p.hour) + ":" + pad2(p.minute);
    }
    return formatDateTime(value);
  }

  function pad2(s) {
    s = s === "24" ? "00" : String(s); // older engines print midnight as 24 even with h23
    return s.length < 2 ? "0" + s : s;
  }

  /* ---------- stylesheet: the widget brings its own ---------- */

  function scriptBase() {
    try {
      if (SCRIPT && SCRIPT.src) return new URL(".", SCRIPT.src).href;
    } catch (e) { /* fall through */ }
    return null;
  }

  // Resolves when the CSS is in, so the widget never flashes unstyled; a failed load still shows it.
  function injectStylesheet(href) {
    return new Promise(function (resolve) {
      var existing = Array.prototype.find.call(
        document.querySelectorAll('link[rel="stylesheet"]'),
        function (l) { return l.href === href || l.hasAttribute("data-asw-css"); }
      );
      if (existing) { resolve(); return; }
      var link = el("link", { rel: "stylesheet", href: href, "data-asw-css": true });
      link.addEventListener("load", function () { resolve(); });
      link.addEventListener("error", function () { resolve(); });
      (document.head || document.documentElement).appendChild(link);
      setTimeout(resolve, 3000);
    });
  }

  /* ---------- HTTP helpers ---------- */

  function errorDetail(xhrOrBody, fallback) {
    try {
      var body = typeof xhrOrBody === "string" ? JSON.parse(xhrOrBody) : xhrOrBody;
      if (body && typeof body.detail === "string" && body.detail) return body.detail;
      // FastAPI validation errors: detail is a list of {msg}
      if (body && Array.isArray(body.detail) && body.detail[0] && body.detail[0].msg) return String(body.detail[0].msg);
    } catch (e) { /* not JSON */ }
    return fallback;
  }

  function fetchAnonymousToken(gateway) {
    return fetch(new URL("/gateway/anonymous", gateway).href, { method: "POST", credentials: "same-origin" })
      .then(function (res) {
        if (!res.ok) throw new Error("anonymous token: HTTP " + res.status);
        return res.json();
      })
      .then(function (body) { return body.token; });
  }

  /* ======================================================================
   * Widget: one chat (launcher + panel) bound to one token
   * ====================================================================== */

  function Widget(options) {
    this.opts = options || {};
    this.gateway = (this.opts.gateway || defaultGateway()).replace(/\/+$/, "");
    this.token = this.opts.token || null;
    this.anonymous = false;           // true when we fetched the token ourselves
    this.ws = null;
    this.connected = false;           // socket open AND welcome received
    this.everConnected = false;
    this.stopped = false;             // destroy() or a token we cannot renew
    this.backoff = BACKOFF_MIN_MS;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.typingTimer = null;
    this.conversationId = null;
    this.mode = "bot";
    this.seqs = [];                   // sorted seqs shown in the log
    this.bySeq = new Map();           // seq -> element
    this.outbox = [];                 // frames not yet acked, resent after a reconnect (same client_id)
    this.pendingEls = new Map();      // client_id -> optimistic bubble of a buyer message
    this.localPreviews = new Map();   // upload_id -> object URL of a file this tab uploaded
    this.unread = 0;
    this.isOpen = false;
    this.id = nextId("asw");
    this.build();
  }

  function defaultGateway() {
    try {
      if (SCRIPT && SCRIPT.src) return new URL(SCRIPT.src).origin;
    } catch (e) { /* fall through */ }
    return location.origin;
  }

  /* ---------- building the DOM ---------- */

  Widget.prototype.build = function () {
    var self = this;
    var panelId = this.id + "-panel";
    var inputId = this.id + "-input";

    this.launcherBadge = el("span", { class: "asw-badge", hidden: true, "aria-hidden": "true" });
    this.launcher = el("button", {
      type: "button", class: "asw-launcher", "aria-label": STR.open,
      "aria-controls": panelId, "aria-expanded": "false",
      onclick: function () { self.toggle(); },
    }, [
      el("span", { class: "asw-launcher-chat" }, [icon(ICON.chat, 28)]),
      el("span", { class: "asw-launcher-close" }, [icon(ICON.close, 26)]),
      this.launcherBadge,
    ]);

    this.statusLine = el("div", { class: "asw-status", role: "status", hidden: true });
    this.agentBanner = el("div", { class: "asw-agent-banner", role: "status", hidden: true },
      [icon(ICON.person, 16), el("span", { text: STR.agentJoined })]);

    this.log = el("div", {
      class: "asw-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": "聊天记录", tabindex: "0",
    });

    this.typingEl = el("div", { class: "asw-typing", hidden: true, role: "status" }, [
      el("span", { class: "asw-dot" }), el("span", { class: "asw-dot" }), el("span", { class: "asw-dot" }),
      el("span", { class: "asw-sr", text: STR.typing }),
    ]);

    this.input = el("textarea", {
      id: inputId, class: "asw-input", rows: "1", maxlength: String(MAX_TEXT),
      placeholder: STR.placeholder, "aria-label": STR.inputLabel, enterkeyhint: "send",
    });
    this.input.addEventListener("keydown", function (e) { self.onInputKey(e); });
    this.input.addEventListener("input", function () { self.autoGrow(); self.updateCounter(); });
    this.counter = el("div", { class: "asw-counter", hidden: true, "aria-live": "polite" });
    this.sendBtn = el("button", { type: "button", class: "asw-send", onclick: function () { self.sendFromInput(); } },
      [el("span", { text: STR.send })]);

    var composer = el("div", { class: "asw-composer" }, [
      el("label", { class: "asw-sr", for: inputId, text: STR.inputLabel }),
      this.input, this.sendBtn,
    ]);

    var header = el("div", { class: "asw-header" }, [
      el("div", { class: "asw-avatar", "aria-hidden": "true" }, [icon(ICON.chat, 20)]),
      el("div", { class: "asw-heading" }, [
        el("h2", { class: "asw-title", id: this.id + "-title", text: STR.title }),
        el("div", { class: "asw-subtitle", text: STR.subtitle }),
      ]),
      el("button", {
        type: "button", class: "asw-close", "aria-label": STR.close,
        onclick: function () { self.close(); },
      }, [icon(ICON.close, 20)]),
    ]);

    this.panel = el("div", {
      id: panelId, class: "asw-panel", role: "dialog", "aria-label": STR.title, hidden: true,
    }, [header, this.statusLine, this.agentBanner, this.log, this.typingEl, this.counter, composer]);
    this.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.stopPropagation(); self.close(); }
    });

    this.root = el("div", { class: "asw-root", "data-asw": this.id }, [this.panel, this.launcher]);
    this.root.style.visibility = "hidden"; // until widget.css is in (see start)
    this.ready = Promise.resolve();
  };

  /* ---------- open / close ---------- */

  Widget.prototype.open = function () {
    if (this.isOpen) return;
    this.isOpen = true;
    this.panel.hidden = false;
    this.root.classList.add("asw-is-open");
    // The launcher keeps its label ("打开售后客服"); aria-expanded tells screen readers the state.
    this.launcher.setAttribute("aria-expanded", "true");
    this.setUnread(0);
    this.scrollToBottom();
    var self = this;
    // Focus once the panel is displayed and the CSS is in (a visibility:hidden root can't take focus);
    // on phones this also brings up the keyboard, which is what a buyer who tapped "chat" expects.
    this.ready.then(function () {
      requestAnimationFrame(function () {
        if (self.isOpen) { self.scrollToBottom(); self.input.focus({ preventScroll: true }); }
      });
    });
  };

  Widget.prototype.close = function () {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.root.classList.remove("asw-is-open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus({ preventScroll: true });
  };

  Widget.prototype.toggle = function () {
    if (this.isOpen) this.close(); else this.open();
  };

  Widget.prototype.setUnread = function (n) {
    this.unread = n;
    this.launcherBadge.hidden = n === 0;
    this.launcherBadge.textContent = n > 99 ? "99+" : String(n);
  };

  /* ---------- connection ---------- */

  Widget.prototype.wsUrl = function () {
    var url = new URL("/gateway/ws", this.gateway);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  };

  Widget.prototype.ensureToken = function () {
    var self = this;
    if (this.token) return Promise.resolve(this.token);
    var get = typeof this.opts.getToken === "function"
      ? Promise.resolve(this.opts.getToken())
      : fetchAnonymousToken(this.gateway).then(function (t) { self.anonymous = true; return t; });
    return get.then(function (token) {
      if (!token) throw new Error("no token");
      self.token = token;
      return token;
    });
  };

  Widget.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    this.showStatus(this.everConnected ? STR.reconnecting : STR.connecting);
    this.ensureToken().then(function () { self.openSocket(); }, function () {
      self.showStatus(STR.noToken, true);
      self.scheduleReconnect();
    });
  };

  Widget.prototype.openSocket = function () {
    var self = this;
    if (this.stopped) return;
    var ws;
    try {
      ws = new WebSocket(this.wsUrl());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", function () {
      if (self.ws !== ws) return;
      ws.send(JSON.stringify({ type: "hello", token: self.token, last_seq: self.lastSeq() }));
    });
    ws.addEventListener("message", function (ev) {
      if (self.ws !== ws) return;
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      self.onFrame(frame);
    });
    ws.addEventListener("close", function (ev) {
      if (self.ws !== ws) return;
      self.onSocketClosed(ev);
    });
    // "error" is always followed by "close"; nothing to do here.
  };

  Widget.prototype.onSocketClosed = function (ev) {
    this.ws = null;
    this.connected = false;
    this.stopPing();
    this.setTyping(false);
    if (this.stopped) return;
    if (ev.code === 4401) { this.onBadToken(); return; }
    this.showStatus(STR.reconnecting);
    this.scheduleReconnect();
  };

  // The token was refused: a token we can renew (anonymous, or the host's getToken) is renewed once
  // per failure; a fixed token from the page cannot be, so the buyer is told to refresh.
  Widget.prototype.onBadToken = function () {
    var renewable = this.anonymous || typeof this.opts.getToken === "function";
    if (!renewable || this.renewing) {
      this.stopped = true;
      this.showStatus(this.badTokenMessage || "登录已过期，请刷新页面", true);
      return;
    }
    this.renewing = true;
    this.token = null;
    this.anonymous = false;
    this.showStatus(STR.connecting);
    this.scheduleReconnect(0);
  };

  Widget.prototype.scheduleReconnect = function (delay) {
    var self = this;
    if (this.stopped || this.reconnectTimer) return;
    var wait = delay !== undefined ? delay : this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(function () {
      self.reconnectTimer = null;
      self.connect();
    }, wait);
  };

  // Skip the rest of the backoff when the browser says the network is back.
  Widget.prototype.reconnectNow = function () {
    if (this.stopped || this.ws) return;
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null; }
    this.connect();
  };

  Widget.prototype.startPing = function () {
    var self = this;
    this.stopPing();
    // Proxies drop idle sockets after ~60 s; a ping keeps the line open while the buyer reads.
    this.pingTimer = setInterval(function () { self.sendFrame({ type: "ping" }); }, PING_EVERY_MS);
  };

  Widget.prototype.stopPing = function () {
    if (this.pingTimer) { clearInterval(this.pingTimer); this.pingTimer = null; }
  };

  Widget.prototype.sendFrame = function (frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  };

  Widget.prototype.showStatus = function (text, isError) {
    this.statusLine.hidden = !text;
    this.statusLine.textContent = text || "";
    this.statusLine.classList.toggle("asw-status-error", !!isError);
  };

  /* ---------- frames from the server ---------- */

  Widget.prototype.onFrame = function (frame) {
    switch (frame.type) {
      case "welcome": return this.onWelcome(frame);
      case "history": return (frame.messages || []).forEach(this.addMessage, this);
      case "message": return this.onMessage(frame.message);
      case "ack": return this.onAck(frame);
      case "typing": return this.setTyping(!!frame.on);
      case "mode": return this.setMode(frame.mode);
      case "error": return this.onError(frame);
      default: return undefined; // pong and anything newer than this widget
    }
  };

  Widget.prototype.onWelcome = function (frame) {
    // A different conversation (e.g. a renewed anonymous token) has its own seq numbers: start over.
    if (this.conversationId && frame.conversation_id && frame.conversation_id !== this.conversationId) {
      this.clearLog();
    }
    this.conversationId = frame.conversation_id || null;
    this.connected = true;
    this.everConnected = true;
    this.renewing = false;
    this.backoff = BACKOFF_MIN_MS;
    this.showStatus(null);
    this.setMode(frame.mode);
    this.startPing();
    this.flushOutbox();
  };

  Widget.prototype.onMessage = function (message) {
    if (!message) return;
    var isNew = !this.bySeq.has(message.seq);
    this.addMessage(message);
    if (message.author !== "buyer") this.setTyping(false);
    if (isNew && !this.isOpen && message.author !== "buyer") this.setUnread(this.unread + 1);
  };

  Widget.prototype.onAck = function (frame) {
    this.dropFromOutbox(frame.client_id);
    var pending = this.pendingEls.get(frame.client_id);
    if (!pending) return;
    this.pendingEls.delete(frame.client_id);
    if (typeof frame.seq !== "number" || this.bySeq.has(frame.seq)) {
      // The echoed message is already shown under its seq: the optimistic copy goes.
      pending.remove();
      return;
    }
    // Echo not here yet: the optimistic bubble becomes the real one; the echo will be a duplicate seq.
    this.promotePending(pending, frame.seq);
  };

  Widget.prototype.onError = function (frame) {
    if (frame.code === "bad_token") {
      this.badTokenMessage = frame.message; // the close (4401) that follows acts on it
      return;
    }
    if (frame.client_id) {
      this.dropFromOutbox(frame.client_id);
      var pending = this.pendingEls.get(frame.client_id);
      if (pending) {
        this.pendingEls.delete(frame.client_id);
        this.markFailed(pending, frame.message || STR.failed);
        return;
      }
    }
    this.addNotice(frame.message || "出错了，请稍后再试");
  };

  Widget.prototype.setTyping = function (on) {
    var self = this;
    this.typingEl.hidden = !on;
    if (this.typingTimer) { clearTimeout(this.typingTimer); this.typingTimer = null; }
    if (on) {
      this.typingTimer = setTimeout(function () { self.setTyping(false); }, TYPING_TIMEOUT_MS);
    }
  };

  Widget.prototype.setMode = function (mode) {
    this.mode = mode === "agent" ? "agent" : "bot";
    this.agentBanner.hidden = this.mode !== "agent";
    this.root.classList.toggle("asw-mode-agent", this.mode === "agent");
    if (this.mode === "agent") {
      // A pending 转人工 request is fulfilled; no need to resend it after a reconnect.
      this.outbox = this.outbox.filter(function (f) { return f.type !== "request_human"; });
    }
  };

  /* ---------- the message log, ordered and de-duplicated by seq ---------- */

  Widget.prototype.lastSeq = function () {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : 0;
  };

  // Drops what the server sent; the buyer's unsent messages (pending bubbles + outbox) stay and go
  // to the new conversation.
  Widget.prototype.clearLog = function () {
    this.bySeq.forEach(function (node) { node.remove(); });
    Array.prototype.forEach.call(this.log.querySelectorAll(".asw-notice"), function (n) { n.remove(); });
    this.seqs = [];
    this.bySeq.clear();
  };

  Widget.prototype.addMessage = function (message) {
    if (!message || typeof message.seq !== "number") return;
    var shown = this.bySeq.get(message.seq);
    if (shown && !shown.classList.contains("asw-provisional")) return; // duplicate (history overlap, other tab)
    var stick = this.isNearBottom() || message.author === "buyer";
    var node = this.renderMessage(message);
    if (shown) {
      // An acked optimistic bubble: the server's copy has the time and the file names.
      shown.replaceWith(node);
      this.bySeq.set(message.seq, node);
    } else {
      // Our own message came back before its ack: replace the optimistic bubble instead of doubling it.
      if (message.author === "buyer") this.adoptPending(message);
      this.insertBySeq(message.seq, node);
    }
    if (stick) this.scrollToBottom();
  };

  Widget.prototype.insertBySeq = function (seq, node) {
    var i = this.seqs.length;
    while (i > 0 && this.seqs[i - 1] > seq) i -= 1;
    this.seqs.splice(i, 0, seq);
    this.bySeq.set(seq, node);
    // Before the next higher seq; otherwise before the first optimistic (unacked) bubble, which
    // always stays at the end.
    var before = i + 1 < this.seqs.length ? this.bySeq.get(this.seqs[i + 1]) : this.log.querySelector(".asw-pending");
    this.log.insertBefore(node, before || null);
  };

  // The oldest optimistic bubble with the same text is this message. Its frame stays in the outbox
  // until the ack: if the socket drops now, the resend is deduped by the server anyway.
  Widget.prototype.adoptPending = function (message) {
    var match = null;
    this.pendingEls.forEach(function (node, clientId) {
      if (!match && node.getAttribute("data-text") === (message.text || "")) match = clientId;
    });
    if (!match) return;
    this.pendingEls.get(match).remove();
    this.pendingEls.delete(match);
  };

  // An acked optimistic bubble: give it its seq and file it in order.
  Widget.prototype.promotePending = function (node, seq) {
    node.classList.remove("asw-pending");
    node.classList.add("asw-provisional");
    node.removeAttribute("data-client-id");
    var state = node.querySelector(".asw-state");
    if (state) state.remove();
    node.setAttribute("data-seq", String(seq));
    node.remove();
    this.insertBySeq(seq, node);
  };

  Widget.prototype.markFailed = function (node, text) {
    node.classList.remove("asw-pending");
    node.classList.add("asw-failed");
    var state = node.querySelector(".asw-state");
    if (state) state.textContent = STR.failed + "：" + text;
  };

  Widget.prototype.addNotice = function (text) {
    this.log.appendChild(el("div", { class: "asw-notice", text: text }));
    this.scrollToBottom();
  };

  Widget.prototype.isNearBottom = function () {
    var log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  };

  Widget.prototype.scrollToBottom = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  /* ---------- rendering one message ---------- */

  Widget.prototype.renderMessage = function (message) {
    var author = ["buyer", "bot", "agent", "system"].indexOf(message.author) >= 0 ? message.author : "bot";
    var node = el("div", {
      class: "asw-msg asw-from-" + author,
      "data-seq": String(message.seq),
      "data-author": author,
    });
    if (author === "agent") node.appendChild(el("div", { class: "asw-author", text: STR.agent }));

    var custom = message.custom && typeof message.custom === "object" ? message.custom : null;
    if (message.text) node.appendChild(el("div", { class: "asw-bubble", text: message.text }));
    if (message.attachments && message.attachments.length) node.appendChild(this.renderAttachments(message.attachments));
    if (custom) {
      var card = this.renderCustom(custom, author);
      if (card) {
        node.appendChild(card);
        if (card.classList.contains("asw-card")) node.classList.add("asw-has-card"); // cards get the full width
      }
    }
    if (message.buttons && message.buttons.length) node.appendChild(this.renderQuickReplies(message.buttons));
    if (message.created_at && author !== "system") {
      node.appendChild(el("time", {
        class: "asw-time", datetime: message.created_at, text: formatMessageTime(message.created_at),
      }));
    }
    return node;
  };

  Widget.prototype.renderCustom = function (custom, author) {
    if (custom.type === "progress_card" && custom.progress) return this.renderProgressCard(custom.progress);
    if (custom.type === "materials_request") return this.renderMaterialsCard(custom);
    if (custom.type === "request_human" && author === "system") return this.renderHumanButton();
    return null;
  };

  Widget.prototype.renderAttachments = function (attachments) {
    var self = this;
    var list = el("ul", { class: "asw-attachments", "aria-label": "附件" });
    attachments.forEach(function (a) {
      var name = a.display_name || (a.kind === "video" ? "视频" : "图片");
      var preview = a.upload_id && self.localPreviews.get(a.upload_id);
      var item = el("li", { class: "asw-attachment" });
      if (preview && preview.kind === "image") {
        item.appendChild(el("img", { class: "asw-attachment-img", src: preview.url, alt: name }));
      } else {
        item.appendChild(icon(a.kind === "video" ? ICON.camera : a.kind === "image" ? ICON.image : ICON.file, 16));
        item.appendChild(el("span", { class: "asw-attachment-name", text: name }));
      }
      list.appendChild(item);
    });
    return list;
  };

  /* ---------- quick replies ---------- */

  Widget.prototype.renderQuickReplies = function (buttons) {
    var self = this;
    var group = el("div", { class: "asw-quick", role: "group", "aria-label": "快捷回复" });
    buttons.forEach(function (b) {
      if (!b || !b.title) return;
      group.appendChild(el("button", {
        type: "button", text: b.title,
        onclick: function (e) {
          // One answer per question: the other choices of this message are disabled.
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) { x.disabled = true; });
          e.currentTarget.classList.add("asw-chosen");
          self.sendMessage({ text: b.title, payload: b.payload === undefined ? null : b.payload });
        },
      }));
    });
    return group;
  };

  /* ---------- 转人工 ---------- */

  Widget.prototype.renderHumanButton = function () {
    var self = this;
    var button = el("button", { type: "button", class: "asw-human" }, [icon(ICON.person, 16), el("span", { text: STR.human })]);
    button.addEventListener("click", function () {
      button.disabled = true;
      button.lastChild.textContent = STR.humanSent;
      self.requestHuman();
    });
    return el("div", { class: "asw-human-wrap" }, [button]);
  };

  Widget.prototype.requestHuman = function () {
    this.queueFrame({ type: "request_human", client_id: makeClientId() });
  };

  /* ---------- progress card ---------- */

  Widget.prototype.renderProgressCard = function (p) {
    var card = el("section", { class: "asw-card asw-card-progress", "aria-label": "售后进度" });

    card.appendChild(el("div", { class: "asw-card-head" }, [
      el("div", { class: "asw-card-title", text: "售后进度" }),
      p.status_label ? el("span", { class: "asw-tag asw-status-" + String(p.status || ""), text: p.status_label }) : null,
    ]));
    if (p.case_id) card.appendChild(el("div", { class: "asw-case-id", text: "售后单号：" + p.case_id }));

    if (Array.isArray(p.stages) && p.stages.length) card.appendChild(renderStages(p.stages));

    // next_step is {party, text} in backend/schemas/cases.py; older payloads had a plain string.
    var next = p.next_step && typeof p.next_step === "object" ? p.next_step.text : p.next_step;
    if (next) card.appendChild(el("div", { class: "asw-next" }, [el("strong", { text: "下一步：" }), el("span", { text: next })]));

    if (p.deadline && p.deadline.due_at) card.appendChild(renderDeadline(p.deadline));
    if (p.overdue_penalty) card.appendChild(renderPenalty(p.overdue_penalty));
    if (p.return_address) {
      card.appendChild(el("div", { class: "asw-kv" }, [el("strong", { text: "退货地址：" }), el("span", { text: p.return_address })]));
    }
    if (Array.isArray(p.timeline) && p.timeline.length) card.appendChild(renderTimeline(p.timeline));
    return card;
  };

  function renderStages(stages) {
    var list = el("ol", { class: "asw-stages", "aria-label": "办理阶段" });
    stages.forEach(function (s) {
      var state = ["done", "current", "todo"].indexOf(s.state) >= 0 ? s.state : "todo";
      var spoken = state === "done" ? "（已完成）" : state === "current" ? "（进行中）" : "";
      list.appendChild(el("li", { class: "asw-stage asw-stage-" + state, "aria-current": state === "current" ? "step" : null }, [
        el("span", { class: "asw-stage-dot", "aria-hidden": "true" }),
        el("span", { class: "asw-stage-label", text: s.label || "" }),
        spoken ? el("span", { class: "asw-sr", text: spoken }) : null,
      ]));
    });
    return list;
  }

  function renderDeadline(d) {
    var when = formatDateTime(d.due_at) + (d.estimated ? "（预计）" : "");
    var label = (d.label ? d.label : "处理") + "截止：";
    var row = el("div", { class: "asw-deadline" + (d.overdue ? " asw-overdue" : "") }, [
      el("strong", { text: label }),
      el("time", { datetime: d.due_at, text: when }),
    ]);
    if (d.overdue) row.appendChild(el("span", { class: "asw-tag asw-tag-warn", text: "已超时" }));
    return row;
  }

  function renderPenalty(pen) {
    var parts = [];
    if (pen.days_late) parts.push("已超时" + pen.days_late + "天");
    if (pen.amount) parts.push("逾期赔付 ¥" + pen.amount);
    return el("div", { class: "asw-overdue-info", role: "note", text: parts.join("，") || "已超时" });
  }

  function renderTimeline(timeline) {
    var list = el("ol", { class: "asw-timeline", "aria-label": "处理记录" });
    // Newest first: the buyer wants to know what happened last.
    timeline.slice().reverse().forEach(function (t, i) {
      var label = t.label || t.status_label || "";
      list.appendChild(el("li", { class: "asw-tl-item" + (i === 0 ? " asw-tl-latest" : "") }, [
        el("time", { class: "asw-tl-time", datetime: t.at, text: formatDateTime(t.at) }),
        el("div", { class: "asw-tl-label", text: label }),
        t.reason ? el("div", { class: "asw-tl-reason", text: t.reason }) : null,
      ]));
    });
    return list;
  }

  /* ---------- materials request: upload slots ---------- */

  // One card per request: an upload slot per photo/video material, a text field per text material
  // (the description), the confirmations as hints. "提交材料" sends it all as ONE message: the
  // assistant takes that message's text as the description (actions/cases.py _assign), and
  // every file carries its material code.
  Widget.prototype.renderMaterialsCard = function (custom) {
    var self = this;
    var materials = Array.isArray(custom.materials) ? custom.materials : [];
    var card = el("section", { class: "asw-card asw-card-materials", "aria-label": "上传材料" });
    var files = []; // {material, file, status: uploading|done|error|removed, uploadId, xhr, node, url}
    var textFields = [];

    card.appendChild(el("div", { class: "asw-card-head" }, [
      el("div", { class: "asw-card-title", text: "请补充材料" }),
      custom.case_id ? el("span", { class: "asw-case-id", text: custom.case_id }) : null,
    ]));

    var submit = el("button", { type: "button", class: "asw-submit-materials", disabled: true, text: "提交材料" });
    var cardError = el("div", { class: "asw-error", role: "alert", hidden: true });

    function typedText() {
      return textFields.map(function (f) { return f.value.replace(/^\s+|\s+$/g, ""); })
        .filter(Boolean).join("\n");
    }

    function refresh() {
      if (card.classList.contains("asw-submitted")) return;
      var done = files.filter(function (f) { return f.status === "done"; }).length;
      var busy = files.some(function (f) { return f.status === "uploading"; });
      submit.disabled = busy || (done === 0 && !typedText());
      submit.textContent = done ? "提交材料（" + done + "个文件）" : "提交材料";
    }

    materials.forEach(function (m) {
      if (m.kind === "image" || m.kind === "video") card.appendChild(self.renderSlot(m, files, refresh, cardError));
    });
    materials.forEach(function (m) {
      if (m.kind !== "text") return;
      var field = self.renderTextMaterial(m, refresh);
      var area = field.querySelector("textarea");
      area.addEventListener("input", function () { showError(cardError, null); });
      textFields.push(area);
      card.appendChild(field);
    });

    // A confirmation is a yes the buyer types as a reply of its own ("确认"), so it is only named here.
    var confirmations = materials.filter(function (m) { return m.kind === "confirmation"; });
    if (confirmations.length) {
      var hints = el("ul", { class: "asw-hints" });
      confirmations.forEach(function (m) { hints.appendChild(el("li", { class: "asw-hint", "data-material": m.code, text: m.label })); });
      card.appendChild(el("div", { class: "asw-hint-box" }, [el("div", { class: "asw-hint-title", text: "另请在输入框中回复：" }), hints]));
    }

    submit.addEventListener("click", function () {
      var done = files.filter(function (f) { return f.status === "done"; });
      var text = typedText();
      if (!done.length && !text) return;
      if (done.length > MAX_ATTACHMENTS) {
        showError(cardError, "一次最多提交" + MAX_ATTACHMENTS + "个文件，请先移除一些");
        return;
      }
      // The assistant ignores a description under 5 characters; say so instead of losing it silently.
      if (text && text.length < 5) {
        showError(cardError, "问题描述请再写详细一些（至少5个字）");
        return;
      }
      if (text.length > MAX_TEXT) {
        showError(cardError, STR.tooLong);
        return;
      }
      showError(cardError, null);
      card.classList.add("asw-submitted");
      Array.prototype.forEach.call(card.querySelectorAll("button, input, textarea"), function (x) { x.disabled = true; });
      submit.textContent = "已提交";
      self.sendMessage({
        text: text,  // files alone: the gateway tells the assistant they are an answer, not a description
        attachments: done.map(function (f) { return { upload_id: f.uploadId, material: f.material }; }),
      });
    });

    if (materials.some(function (m) { return m.kind !== "confirmation"; })) {
      card.appendChild(cardError);
      card.appendChild(el("div", { class: "asw-card-actions" }, [submit]));
    }
    return card;
  };

  Widget.prototype.renderTextMaterial = function (m, refresh) {
    var id = nextId("asw-text");
    var area = el("textarea", {
      id: id, class: "asw-material-text", "data-material": m.code, rows: "2", maxlength: String(MAX_TEXT),
      placeholder: "请填写" + (m.label || "问题描述"),
    });
    area.addEventListener("input", refresh);
    return el("div", { class: "asw-text-slot", "data-material": m.code }, [
      el("label", { class: "asw-slot-label", for: id, text: m.label || m.code }),
      area,
    ]);
  };

  Widget.prototype.renderSlot = function (m, files, refresh, cardError) {
    var self = this;
    var isVideo = m.kind === "video";
    var unit = isVideo ? "个" : "张";
    var accept = isVideo ? "video/*" : "image/*";
    var slotId = nextId("asw-slot");
    var need = Number(m.min_count) || 1;

    var gallery = el("input", {
      type: "file", class: "asw-file asw-visually-hidden", accept: accept, multiple: true,
      id: slotId + "-gallery", tabindex: "-1", "aria-label": m.label + "：从相册选择",
    });
    var camera = el("input", {
      type: "file", class: "asw-camera asw-visually-hidden", accept: accept, capture: "environment",
      id: slotId + "-camera", tabindex: "-1", "aria-label": m.label + "：" + (isVideo ? "拍视频" : "拍照"),
    });
    var thumbs = el("ul", { class: "asw-thumbs", "aria-label": m.label + "已选文件" });

    var countText = "需 " + need + " " + unit;
    if (m.have_count) countText += "（已收 " + m.have_count + " " + unit + "）";

    var slot = el("div", { class: "asw-slot", "data-material": m.code, "data-kind": m.kind, role: "group", "aria-labelledby": slotId + "-label" }, [
      el("div", { class: "asw-slot-head" }, [
        el("span", { class: "asw-slot-label", id: slotId + "-label", text: m.label || m.code }),
        el("span", { class: "asw-slot-count", text: countText }),
      ]),
      thumbs,
      el("div", { class: "asw-slot-actions" }, [
        el("button", { type: "button", class: "asw-pick asw-pick-camera", onclick: function () { camera.click(); } },
          [icon(ICON.camera, 16), el("span", { text: isVideo ? "拍视频" : "拍照" })]),
        el("button", { type: "button", class: "asw-pick asw-pick-gallery", onclick: function () { gallery.click(); } },
          [icon(ICON.image, 16), el("span", { text: "从相册选择" })]),
      ]),
      gallery, camera,
    ]);

    function onPicked(input) {
      var picked = Array.prototype.slice.call(input.files || []);
      input.value = ""; // so picking the same photo again fires "change" again
      var total = files.filter(function (f) { return f.status !== "removed"; }).length;
      if (total + picked.length > MAX_ATTACHMENTS) {
        showError(cardError, "最多上传" + MAX_ATTACHMENTS + "个文件");
        picked = picked.slice(0, Math.max(0, MAX_ATTACHMENTS - total));
      } else {
        showError(cardError, null);
      }
      picked.forEach(function (file) {
        var entry = { material: m.code, file: file, status: "uploading", uploadId: null, xhr: null, node: null, url: null };
        files.push(entry);
        thumbs.appendChild(self.renderThumb(entry, files, refresh));
        self.uploadEntry(entry, refresh);
      });
      refresh();
    }
    gallery.addEventListener("change", function () { onPicked(gallery); });
    camera.addEventListener("change", function () { onPicked(camera); });
    return slot;
  };

  Widget.prototype.renderThumb = function (entry, files, refresh) {
    var self = this;
    var file = entry.file;
    var isVideo = /^video\//.test(file.type);
    entry.url = URL.createObjectURL(file);
    var preview = isVideo
      ? el("video", { class: "asw-thumb", src: entry.url, muted: true, preload: "metadata", "aria-label": file.name })
      : el("img", { class: "asw-thumb", src: entry.url, alt: file.name });
    preview.addEventListener("error", function () { preview.classList.add("asw-thumb-broken"); });

    var bar = el("div", { class: "asw-progress-bar" });
    var progress = el("div", {
      class: "asw-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0",
      "aria-label": file.name + " 上传进度",
    }, [bar]);
    var error = el("div", { class: "asw-error asw-thumb-error", role: "alert", hidden: true });
    var retry = el("button", { type: "button", class: "asw-retry", hidden: true, text: "重试" });
    var remove = el("button", { type: "button", class: "asw-remove", "aria-label": "移除 " + file.name }, [icon(ICON.close, 14)]);

    var item = el("li", { class: "asw-thumb-item asw-uploading" }, [
      el("div", { class: "asw-thumb-box" }, [preview, remove]),
      el("div", { class: "asw-thumb-name", text: file.name, title: file.name }),
      progress, error, retry,
    ]);
    entry.node = { item: item, bar: bar, progress: progress, error: error, retry: retry };

    retry.addEventListener("click", function () { self.uploadEntry(entry, refresh); refresh(); });
    remove.addEventListener("click", function () {
      if (entry.xhr) entry.xhr.abort();
      entry.status = "removed";
      var i = files.indexOf(entry);
      if (i >= 0) files.splice(i, 1);
      item.remove();
      refresh();
    });
    return item;
  };

  // XMLHttpRequest, not fetch: fetch cannot report upload progress.
  Widget.prototype.uploadEntry = function (entry, refresh) {
    var self = this;
    var n = entry.node;
    entry.status = "uploading";
    n.item.className = "asw-thumb-item asw-uploading";
    n.error.hidden = true;
    n.retry.hidden = true;
    setProgress(n, 0);

    var xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    xhr.open("POST", new URL("/gateway/uploads", this.gateway).href);
    if (this.token) xhr.setRequestHeader("Authorization", "Bearer " + this.token);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) setProgress(n, Math.min(99, Math.round((e.loaded / e.total) * 100)));
    };
    xhr.onload = function () {
      entry.xhr = null;
      if (entry.status === "removed") return;
      if (xhr.status === 201 || xhr.status === 200) {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* handled below */ }
        if (body && body.upload_id) {
          entry.status = "done";
          entry.uploadId = body.upload_id;
          entry.kind = body.kind;
          self.localPreviews.set(body.upload_id, { url: entry.url, kind: body.kind || (/^video\//.test(entry.file.type) ? "video" : "image") });
          setProgress(n, 100);
          n.item.className = "asw-thumb-item asw-done";
          refresh();
          return;
        }
      }
      fail(errorDetail(xhr.responseText, uploadErrorText(xhr.status)));
    };
    xhr.onerror = function () { entry.xhr = null; fail("网络异常，上传失败，请重试"); };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = function () { entry.xhr = null; };

    function fail(text) {
      if (entry.status === "removed") return;
      entry.status = "error";
      n.item.className = "asw-thumb-item asw-error-state";
      n.error.textContent = text;
      n.error.hidden = false;
      n.retry.hidden = false;
      refresh();
    }

    var form = new FormData();
    form.append("file", entry.file, entry.file.name);
    xhr.send(form);
  };

  function setProgress(n, pct) {
    n.bar.style.width = pct + "%";
    n.progress.setAttribute("aria-valuenow", String(pct));
  }

  function uploadErrorText(status) {
    if (status === 401 || status === 403) return "请先登录后再上传";
    if (status === 413) return "文件太大了，请压缩后再上传";
    if (status === 415) return "不支持这种文件格式，请上传照片或视频";
    if (status === 429) return "上传太频繁了，请稍后再试";
    return "上传失败，请重试";
  }

  function showError(node, text) {
    node.hidden = !text;
    node.textContent = text || "";
  }

  /* ---------- sending ---------- */

  Widget.prototype.onInputKey = function (e) {
    // Enter while an IME is composing (pinyin candidates) picks a candidate; it must not send.
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    this.sendFromInput();
  };

  Widget.prototype.sendFromInput = function () {
    var text = this.input.value.replace(/^\s+|\s+$/g, "");
    if (!text) { this.input.focus(); return; }
    if (text.length > MAX_TEXT) { this.addNotice(STR.tooLong); return; }
    this.input.value = "";
    this.autoGrow();
    this.updateCounter();
    this.sendMessage({ text: text, payload: null });
    this.input.focus();
  };

  // Shows the buyer's message at once (optimistic) and queues the frame until the server acks it.
  Widget.prototype.sendMessage = function (msg) {
    var clientId = makeClientId();
    var frame = {
      type: "message", client_id: clientId, text: msg.text || "",
      payload: msg.payload === undefined ? null : msg.payload,
      attachments: msg.attachments || [],
    };
    var node = this.renderPending(clientId, frame);
    this.pendingEls.set(clientId, node);
    this.log.appendChild(node);
    this.scrollToBottom();
    this.queueFrame(frame);
    return clientId;
  };

  Widget.prototype.renderPending = function (clientId, frame) {
    var node = el("div", {
      class: "asw-msg asw-from-buyer asw-pending", "data-author": "buyer", "data-client-id": clientId,
      "data-text": frame.text,
    });
    if (frame.text) node.appendChild(el("div", { class: "asw-bubble", text: frame.text }));
    if (frame.attachments.length) {
      var self = this;
      node.appendChild(this.renderAttachments(frame.attachments.map(function (a) {
        var p = self.localPreviews.get(a.upload_id);
        return { upload_id: a.upload_id, material: a.material, kind: p ? p.kind : "image" };
      })));
    }
    node.appendChild(el("div", { class: "asw-state", text: STR.pending }));
    return node;
  };

  Widget.prototype.queueFrame = function (frame) {
    this.outbox.push(frame);
    if (this.connected) this.sendFrame(frame);
  };

  // After every welcome: everything not yet acked goes again with its original client_id (the
  // server stores a client_id once, so a frame that did arrive before the drop is not doubled).
  Widget.prototype.flushOutbox = function () {
    var self = this;
    this.outbox.slice().forEach(function (frame) { self.sendFrame(frame); });
  };

  Widget.prototype.dropFromOutbox = function (clientId) {
    if (!clientId) return;
    this.outbox = this.outbox.filter(function (f) { return f.client_id !== clientId; });
  };

  /* ---------- composer niceties ---------- */

  Widget.prototype.autoGrow = function () {
    var input = this.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  };

  Widget.prototype.updateCounter = function () {
    var left = MAX_TEXT - this.input.value.length;
    this.counter.hidden = left > 100;
    this.counter.textContent = "还可输入" + Math.max(0, left) + "字";
  };

  /* ---------- lifecycle ---------- */

  Widget.prototype.start = function (container) {
    var self = this;
    (container || document.body).appendChild(this.root);
    var cssHref = this.opts.css === false ? null
      : this.opts.css || (scriptBase() ? scriptBase() + "widget.css" : this.gateway + "/widget/widget.css");
    this.ready = (cssHref ? injectStylesheet(cssHref) : Promise.resolve()).then(function () {
      self.root.style.visibility = "";
    });

    this.onOnline = function () { self.reconnectNow(); };
    window.addEventListener("online", this.onOnline);
    if (this.opts.open) this.open();
    this.connect();
  };

  Widget.prototype.destroy = function () {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopPing();
    if (this.ws) { var ws = this.ws; this.ws = null; ws.close(1000); }
    window.removeEventListener("online", this.onOnline);
    this.localPreviews.forEach(function (p) { URL.revokeObjectURL(p.url); });
    this.root.remove();
  };

  /* ---------- public API ---------- */

  function mount(options) {
    var widget = new Widget(options || {});
    var container = options && options.container;
    if (!document.body && !container) {
      document.addEventListener("DOMContentLoaded", function () { widget.start(); }, { once: true });
    } else {
      widget.start(container);
    }
    return {
      open: function () { widget.open(); },
      close: function () { widget.close(); },
      toggle: function () { widget.toggle(); },
      send: function (text) { return widget.sendMessage({ text: String(text), payload: null }); },
      destroy: function () { widget.destroy(); },
      get connected() { return widget.connected; },
      get mode() { return widget.mode; },
      get conversationId() { return widget.conversationId; },
      get element() { return widget.root; },
    };
  }

  window.AftersalesWidget = { mount: mount, version: "1.0.0" };

  // <script src="/widget/widget.js" data-token="..." data-auto-mount></script>
  if (SCRIPT && SCRIPT.hasAttribute("data-auto-mount")) {
    var auto = function () {
      window.AftersalesWidget.instance = mount({
        token: SCRIPT.getAttribute("data-token") || undefined,
        gateway: SCRIPT.getAttribute("data-gateway") || undefined,
        open: SCRIPT.hasAttribute("data-open"),
      });
    };
    if (document.body) auto(); else document.addEventListener("DOMContentLoaded", auto, { once: true });
  }
})();
