// tidings: a live filter for the story list. The page works without it: the same form filters on
// the server when submitted. Nothing here talks to the network.
(function () {
  "use strict";
  function words(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }
  function setup(form) {
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-filter-item]"));
    var text = form.querySelector("input[name=q]");
    var lang = form.querySelector("select[name=lang]");
    var count = form.querySelector("[data-filter-count]");
    var empty = document.querySelector("[data-filter-empty]");
    var haystacks = items.map(function (item) { return words(item.getAttribute("data-text") || "").join(" "); });
    function apply() {
      var wanted = text ? words(text.value) : [];
      var code = lang ? lang.value : "";
      var shown = 0;
      items.forEach(function (item, i) {
        var langs = (item.getAttribute("data-langs") || "").split(" ");
        var ok = (!code || langs.indexOf(code) >= 0) &&
                 wanted.every(function (w) { return haystacks[i].indexOf(w) >= 0; });
        item.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (count) { count.textContent = shown + " of " + items.length + " stories on this page shown"; }
      if (empty) { empty.hidden = shown > 0 || items.length === 0; }
    }
    if (text) { text.addEventListener("input", apply); }
    if (lang) { lang.addEventListener("change", apply); }
    form.setAttribute("data-live", "on");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-filter]");
    if (form) { setup(form); }
  });
})();
