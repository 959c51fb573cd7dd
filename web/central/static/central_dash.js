// Live fleet: the first message carries every station, then each message only the stations (and
// the command log) that changed, with their cells rendered by the server in the viewer's language.
(function () {
  "use strict";
  var table = document.getElementById("fleet");
  if (!table || !window.EventSource) { return; }
  var lost = document.getElementById("stream-lost");
  var commands = document.querySelector("#commands tbody");
  var parser = new DOMParser();
  var source = new EventSource(table.dataset.stream);
  // The server's cells are escaped HTML from its templates; parsed inert, never run as script.
  function fill(cell, html) {
    if (cell.dataset.html === html) { return; }
    cell.dataset.html = html;
    cell.replaceChildren.apply(cell, Array.from(parser.parseFromString(html, "text/html").body.childNodes));
  }
  function fillRows(tbody, html) {
    var doc = parser.parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
    tbody.replaceChildren.apply(tbody, Array.from(doc.querySelectorAll("tbody > tr")));
  }
  source.addEventListener("fleet", function (e) {
    var message = JSON.parse(e.data);
    if (lost) { lost.hidden = true; }
    message.stations.forEach(function (s) {
      var row = table.querySelector('tr[data-station="' + CSS.escape(s.id) + '"]');
      if (!row) { window.location.reload(); return; }
      Object.keys(s.cells).forEach(function (field) {
        var cell = row.querySelector('[data-field="' + field + '"]');
        if (cell) { fill(cell, s.cells[field]); }
      });
    });
    (message.removed || []).forEach(function (id) {
      var row = table.querySelector('tr[data-station="' + CSS.escape(id) + '"]');
      if (row) { row.remove(); }
    });
    if (commands && typeof message.commands === "string") { fillRows(commands, message.commands); }
  });
  source.addEventListener("error", function () { if (lost) { lost.hidden = false; } });
  source.addEventListener("open", function () { if (lost) { lost.hidden = true; } });
})();
