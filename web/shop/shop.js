/* Demo shop: plays the shop's own site. It "logs in" the buyer from ?buyer= (default b_1001), asks the
 * backend's demo endpoint for a signed widget token — a real shop would sign it on its own server —
 * and mounts the chat widget with it. ?guest=1 shows the shop to a visitor who is not logged in (the
 * widget then gets an anonymous token itself). ?open=1 opens the chat at once (handy for demos and tests). */
(function () {
  "use strict";

  var params = new URLSearchParams(location.search);
  var buyerId = params.get("buyer") || "b_1001";
  var autoOpen = params.get("open") === "1";

  if (params.get("guest") === "1") {
    document.getElementById("shop-buyer").textContent = "游客";
    window.shopChat = window.AftersalesWidget.mount({ gateway: location.origin, open: autoOpen });
    return;
  }
  document.getElementById("shop-buyer").textContent = buyerId;

  function notice(text) {
    var box = document.getElementById("shop-notice");
    box.textContent = text;
    box.hidden = false;
  }

  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(buyerId)) {
    notice("买家编号格式不正确：" + buyerId);
    return;
  }

  fetch("/demo/widget-token?buyer_id=" + encodeURIComponent(buyerId))
    .then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new Error(body.detail || "HTTP " + res.status);
        return body;
      });
    })
    .then(function (body) {
      var chat = window.AftersalesWidget.mount({ token: body.token, gateway: location.origin, open: autoOpen });
      window.shopChat = chat;
      // "申请售后" / "查询进度" on an order: open the chat with that question already sent.
      Array.prototype.forEach.call(document.querySelectorAll("[data-ask]"), function (button) {
        button.addEventListener("click", function () {
          chat.open();
          chat.send(button.getAttribute("data-ask"));
        });
      });
    })
    .catch(function (err) {
      notice("无法登录客服（" + err.message + "），请稍后刷新页面。");
    });
})();
