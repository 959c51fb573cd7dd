// Live fleet: the server sends the whole fleet (server-sent events) whenever it changes. The words
// come from the page (data-* attributes filled from the catalogs), never from this script.
(function () {
  "use strict";
  var table = document.getElementById("fleet");
  if (!table || !window.EventSource) { return; }
  var words = table.dataset;
  var source = new EventSource(words.stream);
  function text(cell, value) { if (cell) { cell.textContent = value; } }
  source.addEventListener("fleet", function (e) {
    var fleet = JSON.parse(e.data).stations;
    fleet.forEach(function (s) {
      var row = table.querySelector('tr[data-station="' + CSS.escape(s.id) + '"]');
      if (!row) { window.location.reload(); return; }
      var state = row.querySelector('[data-field="state"]');
      text(state, s.state + (s.reason ? " — " + s.reason : ""));
      if (state) { state.className = "state state-" + s.state; }
      var who = s.member_name || "—";
      if (s.member_name && s.supervisor_name) { who += " (" + words["with"].replace("{name}", s.supervisor_name) + ")"; }
      text(row.querySelector('[data-field="who"]'), who);
      var contact = row.querySelector('[data-field="contact"]');
      if (contact) {
        contact.className = s.online ? "online" : "offline";
        contact.textContent = (s.online ? words.online : words.offline) + " · " + (s.last_contact_at || words.never);
      }
      text(row.querySelector('[data-field="backlog"]'), String(s.backlog));
      var health = s.health.filter(function (h) { return !h.ok; }).map(function (h) { return h.part + (h.detail ? ": " + h.detail : ""); });
      text(row.querySelector('[data-field="health"]'), health.length ? health.join(", ") : words.ok);
      var problems = s.problems.map(function (p) { return p.at + " — " + p.data.problem; });
      text(row.querySelector('[data-field="problems"]'), problems.length ? problems.join("\n") : "—");
    });
  });
})();
