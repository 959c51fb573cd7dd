// The technician page is rendered by the server; this only says when the station's state changed.
"use strict";
(function () {
  const me = document.currentScript;
  const shown = [me.dataset.state, me.dataset.session, me.dataset.unknown].join("|");
  const notice = document.getElementById("stale");
  const source = new EventSource("/tech/stream");
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    const now = [s.machine.state, s.session ? s.session.id : "", s.last_unknown_uid || ""].join("|");
    notice.hidden = now === shown;
  });
})();
