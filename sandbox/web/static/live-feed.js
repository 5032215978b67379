/* The dashboard's live event feed: follows the page's Server-Sent Events stream (EventSource) and lists
   the newest events first. Vendored with the project: no CDN, no framework. */
(function () {
  "use strict";
  var MAX_ITEMS = 25;
  var SUMMARY_KEYS = ["status", "response_code", "reason", "amount_minor", "asset", "actor", "customer",
                      "merchant", "symbol", "side", "licence", "now", "label", "id"];

  function summary(data) {
    var parts = [];
    SUMMARY_KEYS.forEach(function (key) {
      if (data && data[key] !== undefined && data[key] !== null && typeof data[key] !== "object") {
        parts.push(key + " " + data[key]);
      }
    });
    return parts.slice(0, 5).join(" · ");
  }

  function start(feed) {
    var list = feed.querySelector("ol");
    var status = feed.querySelector("[data-feed-status]");
    var source = new EventSource(feed.getAttribute("data-src"));

    function show(message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      var empty = list.querySelector("[data-feed-empty]");
      if (empty) { list.removeChild(empty); }
      var item = document.createElement("li");
      item.className = "feed-item";
      item.id = "feed-" + event.id;
      item.setAttribute("data-type", event.type);
      var when = document.createElement("time");
      when.textContent = String(event.created_at || "").slice(0, 19).replace("T", " ");
      var type = document.createElement("strong");
      type.textContent = event.type;
      var text = document.createElement("span");
      text.className = "muted";
      text.textContent = summary(event.data);
      var id = document.createElement("code");
      id.textContent = event.id;
      [when, type, text, id].forEach(function (node) { item.appendChild(node); item.appendChild(document.createTextNode(" ")); });
      list.insertBefore(item, list.firstChild);
      while (list.children.length > MAX_ITEMS) { list.removeChild(list.lastChild); }
    }

    (feed.getAttribute("data-types") || "").split(",").forEach(function (type) {
      if (type) { source.addEventListener(type, show); }
    });
    source.onmessage = show;
    source.onopen = function () { status.textContent = "live"; };
    source.onerror = function () { status.textContent = "reconnecting…"; };
  }

  document.querySelectorAll("[data-event-feed]").forEach(start);
})();
