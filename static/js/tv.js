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

  function perPage(cards, list) {
    list.forEach(function (el) { el.classList.remove("off-page"); });
    if (!list.length) { return 1; }
    var columns = getComputedStyle(cards).gridTemplateColumns.split(" ").length || 1;
    var tallest = Math.max.apply(null, list.map(function (el) { return el.offsetHeight; }));
    var gap = parseFloat(getComputedStyle(cards).rowGap) || 0;
    var room = window.innerHeight - cards.getBoundingClientRect().top - 8;
    var rows = Math.max(Math.floor((room + gap) / (tallest + gap)), 1);
    return columns * rows;
  }

  function layout(cards, advance) {
    var list = ordered(cards);
    var size = perPage(cards, list);
    var pages = Math.max(Math.ceil(list.length / size), 1);
    page = advance ? (page + 1) % pages : Math.min(page, pages - 1);
    list.forEach(function (el, i) {
      el.classList.toggle("off-page", Math.floor(i / size) !== page);
    });
    var label = document.getElementById("tv-page");
    if (label) { label.textContent = pages > 1 ? "page " + (page + 1) + " of " + pages : ""; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var cards = document.querySelector(".cards[data-tv-seconds]");
    if (!cards) { return; }
    var seconds = parseInt(cards.dataset.tvSeconds, 10) || 12;
    var busy = false;
    var relayout = function () {
      if (busy) { return; }
      busy = true;
      window.requestAnimationFrame(function () { layout(cards, false); busy = false; });
    };
    new MutationObserver(relayout).observe(cards, { childList: true });
    window.addEventListener("resize", relayout);
    window.setInterval(function () { layout(cards, true); }, seconds * 1000);
    layout(cards, false);
  });
})();
