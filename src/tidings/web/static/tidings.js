// tidings: a live filter for the story list, and type-ahead on the entity index. The pages work
// without it: the same forms filter on the server when submitted. The type-ahead asks this
// server's own /api/entities, nothing else.
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
  function typeahead(form) {
    var input = form.querySelector("input[name=q]");
    var list = document.getElementById(input.getAttribute("list"));
    var label = form.querySelector("select[name=label]");
    var pending = null;
    var asked = "";
    function ask() {
      var q = input.value.trim();
      if (q.length < 2 || q === asked) { return; }
      asked = q;
      var url = "/api/entities?limit=10&q=" + encodeURIComponent(q) + (label && label.value ? "&label=" + label.value : "");
      fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) { return r.ok ? r.json() : {entities: []}; })
        .then(function (data) {
          if (input.value.trim() !== q) { return; }
          while (list.firstChild) { list.removeChild(list.firstChild); }
          data.entities.forEach(function (e) {
            var option = document.createElement("option");
            option.value = e.name;
            option.label = e.label + " · " + e.forms.slice(0, 4).join(", ");
            option.setAttribute("data-entity-id", e.id);
            list.appendChild(option);
          });
          form.setAttribute("data-suggestions", String(data.entities.length));
        });
    }
    input.addEventListener("input", function () {
      var chosen = Array.prototype.find.call(list.options, function (o) { return o.value === input.value; });
      if (chosen && input.value.trim() === asked) {
        window.location.href = "/entities/" + encodeURIComponent(chosen.getAttribute("data-entity-id"));
        return;
      }
      clearTimeout(pending);
      pending = setTimeout(ask, 150);
    });
    form.setAttribute("data-live", "on");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-filter]");
    if (form) { setup(form); }
    var entities = document.querySelector("form[data-entity-typeahead]");
    if (entities) { typeahead(entities); }
  });
})();
