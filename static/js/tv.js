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

  document.addEventListener("DOMContentLoaded", function () {
    var cards = document.querySelector(".cards[data-tv-seconds]");
    if (!cards) { return; }
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
