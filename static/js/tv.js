// Burki Live TV mode: when more cards run than fit on the screen, show them a
// screenful at a time, turning the page every data-tv-seconds. Cards come and
// go live; each turn (and each change) lays the pages out again.
(function () {
  "use strict";
  var page = 0;

  function ordered(cards) {
    var list = Array.prototype.slice.call(cards.children).filter(function (el) {
      return el.classList.contains("card");
    });
    return list.map(function (el, i) {
      return { el: el, order: parseInt(getComputedStyle(el).order, 10) || 0, i: i };
    }).sort(function (a, b) { return a.order - b.order || a.i - b.i; }).map(function (x) { return x.el; });
  }

  // Pages of whole grid rows that fit under the cards' top edge: laid out with
  // every card shown, rows (cards sharing a top) fill a page until the next
  // one would not fit.
  function pagesOf(cards, list) {
    list.forEach(function (el) { el.classList.remove("off-page"); });
    var room = Math.max(window.innerHeight - cards.getBoundingClientRect().top - 8, 1);
    var pages = [], used = 0, rowTop = null, rowHeight = 0, row = [];
    function close() {
      if (!row.length) { return; }
      if (!pages.length || (used + rowHeight > room && used > 0)) { pages.push([]); used = 0; }
      pages[pages.length - 1] = pages[pages.length - 1].concat(row);
      used += rowHeight;
      row = []; rowHeight = 0;
    }
    list.slice().sort(function (a, b) { return a.offsetTop - b.offsetTop; }).forEach(function (el) {
      if (rowTop !== null && el.offsetTop !== rowTop) { close(); }
      rowTop = el.offsetTop;
      row.push(el);
      rowHeight = Math.max(rowHeight, el.offsetHeight + (parseFloat(getComputedStyle(cards).rowGap) || 0));
    });
    close();
    return pages.length ? pages : [[]];
  }

  function layout(cards, advance) {
    var pages = pagesOf(cards, ordered(cards));
    page = advance ? (page + 1) % pages.length : Math.min(page, pages.length - 1);
    ordered(cards).forEach(function (el) {
      el.classList.toggle("off-page", pages[page].indexOf(el) < 0);
    });
    var label = document.getElementById("tv-page");
    if (label) { label.textContent = pages.length > 1 ? "page " + (page + 1) + " of " + pages.length : ""; }
  }

  function clockText(total) {
    var m = Math.floor(total / 60), s = total % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  // The summary bar, from the cards' own data: no HTML rendered per viewer on the server.
  function summarise(cards, bar) {
    var live = Array.prototype.filter.call(cards.querySelectorAll(".card"), function (el) {
      return el.dataset.ended !== "true";
    });
    var threshold = parseInt(bar.dataset.threshold, 10) || 20;
    var need = live.filter(function (el) { return (parseInt(el.dataset.score, 10) || 0) >= threshold; });
    var unclaimed = need.filter(function (el) { return el.dataset.claimed !== "true"; });
    var stale = !!cards.closest(".live.stale");
    var now = Date.now(), longest = -1;
    live.forEach(function (el) {
      var since = Date.parse(el.dataset.silentSince || "");
      if (!isNaN(since)) { longest = Math.max(longest, Math.floor((now - since) / 1000)); }
    });
    var latencies = live.map(function (el) { return parseFloat(el.dataset.latency); })
      .filter(function (v) { return !isNaN(v); }).sort(function (a, b) { return a - b; });
    var set = function (name, text) {
      var dd = bar.querySelector("[data-sum=" + name + "]");
      if (dd && dd.textContent !== text) { dd.textContent = text; }
    };
    set("live", String(live.length));
    set("need", String(need.length));
    set("unclaimed", String(unclaimed.length));
    if (!stale) { set("silence", longest < 0 ? "none" : clockText(Math.max(longest, 0))); }
    set("latency", latencies.length
      ? latencies[Math.floor((latencies.length - 1) / 2)].toFixed(1) + " s (slowest " + latencies[latencies.length - 1].toFixed(1) + " s)"
      : "n/a");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var cards = document.querySelector(".cards[data-tv-seconds]");
    if (!cards) { return; }
    var bar = document.getElementById("tv-summary");
    if (bar) {
      var sum = function () { summarise(cards, bar); };
      new MutationObserver(sum).observe(cards, { childList: true });
      window.setInterval(sum, 1000);
      sum();
    }
    var seconds = parseInt(cards.dataset.tvSeconds, 10) || 12;
    // A swapped card arrives without its page class: lay out again before the
    // next paint (a MutationObserver runs right after the swap), so no card flashes.
    var relayout = function () { layout(cards, false); };
    new MutationObserver(relayout).observe(cards, { childList: true });
    window.addEventListener("resize", relayout);
    window.setInterval(function () { layout(cards, true); }, seconds * 1000);
    layout(cards, false);
  });
})();
