// Burki Live: opt-in desktop notifications and an optional sound for high-severity alerts
// on the pages a supervisor has open, with a snooze per call. No inline script anywhere.
// An alert is an element with data-alert-id, data-call and data-severity (the call page's
// alert banner, a wallboard card, the overview's recent alerts); each id is told once.
(function () {
  "use strict";
  var NOTIFY = "burki-live-notify", SOUND = "burki-live-sound", SNOOZE = "burki-live-snooze:";
  var SNOOZE_MS = 15 * 60 * 1000;
  var told = {};

  function stored(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  function store(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }

  function enabled() {
    return stored(NOTIFY) === "on" && "Notification" in window && Notification.permission === "granted";
  }
  function snoozed(call) { return Number(stored(SNOOZE + call) || 0) > Date.now(); }

  // Only when it changes: a text change is a mutation, and the observer below calls label().
  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }

  function label(controls) {
    var on = enabled(), sound = stored(SOUND) === "on";
    setText(controls.querySelector("[data-notify-toggle]"), "Desktop alerts: " + (on ? "on" : "off"));
    setText(controls.querySelector("[data-sound-toggle]"), "Sound: " + (sound ? "on" : "off"));
    document.querySelectorAll("[data-snooze]").forEach(function (button) {
      var call = button.dataset.snooze;
      button.hidden = !on && !sound;
      setText(button, snoozed(call) ? "Snoozed" : "Snooze alerts");
      button.setAttribute("aria-pressed", snoozed(call) ? "true" : "false");
    });
  }

  function tell(el, controls) {
    var id = el.dataset.alertId, call = el.dataset.call;
    if (!id || told[id]) { return; }
    told[id] = true;
    if (el.dataset.severity !== "high" || snoozed(call)) { return; }
    if (enabled()) {
      var name = el.dataset.callName || ("call …" + call.slice(-8));
      var note = new Notification("High alert: " + name, {
        body: el.textContent.replace(/\s+/g, " ").trim().slice(0, 200),
        tag: id,
      });
      note.onclick = function () { window.focus(); window.location.href = "/calls/" + encodeURIComponent(call); };
    }
    if (stored(SOUND) === "on" && controls) {
      var audio = new Audio(controls.dataset.sound);
      audio.play().catch(function () { /* the browser wants a gesture first */ });
    }
  }

  function scan(root, controls) {
    if (root.matches && root.matches("[data-alert-id]")) { tell(root, controls); }
    if (root.querySelectorAll) { root.querySelectorAll("[data-alert-id]").forEach(function (el) { tell(el, controls); }); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var controls = document.querySelector(".notify-controls");
    // What is on the page when it opens has been seen: only new alerts are told.
    document.querySelectorAll("[data-alert-id]").forEach(function (el) { told[el.dataset.alertId] = true; });
    if (controls) {
      controls.hidden = !("Notification" in window);
      label(controls);
      controls.addEventListener("click", function (e) {
        if (e.target.closest("[data-sound-toggle]")) {
          store(SOUND, stored(SOUND) === "on" ? "off" : "on");
          label(controls);
        } else if (e.target.closest("[data-notify-toggle]")) {
          if (enabled()) { store(NOTIFY, "off"); label(controls); return; }
          Notification.requestPermission().then(function (permission) {
            store(NOTIFY, permission === "granted" ? "on" : "off");
            label(controls);
          });
        }
      });
    }
    document.addEventListener("click", function (e) {
      var button = e.target.closest && e.target.closest("[data-snooze]");
      if (!button) { return; }
      var call = button.dataset.snooze;
      store(SNOOZE + call, snoozed(call) ? "0" : String(Date.now() + SNOOZE_MS));
      if (controls) { label(controls); }
    });
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) { scan(node, controls); });
      });
      if (controls) { label(controls); }
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
