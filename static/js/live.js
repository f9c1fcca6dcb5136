// Burki Live: the few lines htmx cannot do. Connection state, stale marking,
// countdowns, running durations and auto-scroll. No inline script anywhere.
(function () {
  "use strict";
  var STALE_AFTER_MS = 45000;

  function linkOf(live) { return live.querySelector(".link"); }

  function setLink(live, state, text) {
    var link = linkOf(live);
    live.dataset.link = state;
    live.classList.toggle("stale", state === "stale");
    if (!link) { return; }
    link.dataset.link = state;
    link.querySelector(".link-text").textContent = text;
  }

  function touch(live) {
    live.lastMessage = Date.now();
    if (live.dataset.link !== "live" && live.dataset.link !== "ended") {
      setLink(live, "live", "Connected.");
    }
  }

  function reconnectDelay(connection, attempt) {
    var config = (connection && connection.config) || {};
    var base = config.reconnectDelay || 500;
    var max = config.reconnectMaxDelay || 60000;
    return Math.min(base * Math.pow(2, Math.max(attempt - 1, 0)), max);
  }

  document.addEventListener("htmx:sse:after:connection", function (e) {
    var live = e.target.closest("[data-live]");
    if (live) { live.connected = true; touch(live); setLink(live, "live", "Connected."); }
  });
  document.addEventListener("htmx:sse:after:message", function (e) {
    var live = e.target.closest("[data-live]");
    if (live) { touch(live); }
  });
  document.addEventListener("heartbeat", function (e) {
    var live = e.target.closest && e.target.closest("[data-live]");
    if (live) { touch(live); }
  });
  document.addEventListener("htmx:sse:before:connection", function (e) {
    var live = e.target.closest("[data-live]");
    var connection = e.detail && e.detail.connection;
    if (live && live.denied) { e.preventDefault(); return; }  // signed out: stop retrying
    if (!live || !connection || !connection.attempt) { return; }
    var seconds = Math.round(reconnectDelay(connection, connection.attempt) / 1000);
    setLink(live, "reconnecting", "Connection lost; reconnecting in ~" + seconds + " s (attempt " + connection.attempt + ").");
  });
  document.addEventListener("htmx:sse:error", function (e) {
    var live = e.target.closest("[data-live]");
    var status = e.detail && e.detail.status;
    if (!live) { return; }
    if (status === 401 || status === 403) {
      live.denied = true;
      setLink(live, "closed", status === 401 ? "Your session ended: refresh to sign in again." : "You may no longer watch this.");
      return;
    }
    if (live.dataset.link !== "ended") { setLink(live, "reconnecting", "Connection lost; reconnecting…"); }
  });
  document.addEventListener("htmx:sse:close", function (e) {
    var live = e.target.closest("[data-live]");
    if (!live) { return; }
    var ended = e.detail && e.detail.reason === "message";
    setLink(live, ended ? "ended" : "closed", ended ? "Finished: nothing more will come." : "Disconnected. Refresh to try again.");
  });
  // The first connection is not retried by htmx: reload the page (it resumes exactly).
  document.addEventListener("htmx:error", function (e) {
    var live = e.target.closest && e.target.closest("[data-live]");
    if (live && !live.connected) {
      setLink(live, "reconnecting", "Could not connect; trying again in 5 s.");
      window.setTimeout(function () { window.location.reload(); }, 5000);
    }
  });

  // "I'm on it" is shared HTML for every viewer: the one who already holds the call
  // sees it pressed and disabled (body[data-me] is who this page belongs to).
  function markMine() {
    var me = document.body && document.body.dataset.me;
    if (!me) { return; }
    document.querySelectorAll(".claim-actions").forEach(function (form) {
      var button = form.querySelector("button[value=claim]");
      if (!button) { return; }
      var mine = form.dataset.claimBy === me && form.dataset.claimKind === "claim";
      if (button.disabled !== mine) {
        button.disabled = mine;
        button.setAttribute("aria-pressed", mine ? "true" : "false");
        button.textContent = mine ? "You are on it" : "I'm on it";
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    markMine();
    new MutationObserver(markMine).observe(document.body, { childList: true, subtree: true });
  });

  // A swapped region replaces the element that had the keyboard focus: note where it
  // was before each message and put it back on the same control of the new HTML.
  function focusKey(el) {
    return [el.tagName, el.getAttribute("href") || "", el.getAttribute("value") || "", el.className].join("|");
  }
  var kept = null;
  document.addEventListener("htmx:sse:before:message", function () {
    var el = document.activeElement;
    var region = el && el !== document.body && el.closest("[id]");
    kept = region ? { id: region.id, key: focusKey(el) } : null;
  });
  document.addEventListener("htmx:sse:after:message", function () {
    if (!kept || (document.activeElement && document.activeElement !== document.body)) { return; }
    var region = document.getElementById(kept.id), key = kept.key;
    kept = null;
    if (!region) { return; }
    var found = Array.prototype.find.call(region.querySelectorAll("a, button, input, select, [tabindex]"), function (el) {
      return focusKey(el) === key;
    });
    if (found) { found.focus({ preventScroll: true }); }
  });
  function utc(text) {
    return Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(text) ? text : text + "Z");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-live]").forEach(function (live) {
      if (live.dataset.link === "live" && live.lastMessage && now - live.lastMessage > STALE_AFTER_MS) {
        setLink(live, "stale", "No news for 45 s: what you see may be out of date.");
      }
    });
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (el.closest(".live.stale")) { return; }
      var left = Math.max(parseInt(el.dataset.countdown, 10) - 1, 0);
      el.dataset.countdown = String(left);
      el.textContent = String(left);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      // A stale page does not know the silence or length is still running: it stops.
      if (el.closest(".live.stale")) { return; }
      // An ended call's clock has data-until and stands still; Burki's naive times are UTC.
      var since = utc(el.dataset.since);
      var until = el.dataset.until ? utc(el.dataset.until) : now;
      if (isNaN(since)) { return; }
      var total = Math.max(Math.floor((until - since) / 1000), 0);
      var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
      el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
    });
  }
  window.setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // Auto-scroll: follow new lines while the reader is at the bottom; pause when
  // they scroll up, and offer to resume.
  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("[data-follow]");
    var button = document.querySelector(".follow");
    if (!list || !button) { return; }
    var following = true;
    window.addEventListener("scroll", function () {
      following = nearBottom();
      button.hidden = following;
    }, { passive: true });
    button.addEventListener("click", function () {
      following = true;
      button.hidden = true;
      window.scrollTo(0, document.body.scrollHeight);
    });
    new MutationObserver(function () {
      if (following) { window.scrollTo(0, document.body.scrollHeight); }
      else { button.hidden = false; }
    }).observe(list, { childList: true });
    window.scrollTo(0, document.body.scrollHeight);
  });
})();
