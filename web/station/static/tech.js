// The technician page is rendered by the server; this keeps it live. When the station's status
// changes, the page fetches itself again and swaps the live parts ([data-live]), except a part
// where the technician is typing or choosing (the focus is in it). If the page cannot be fetched
// (logged out, station stopped), a notice offers to reload instead.
"use strict";
(function () {
  const notice = document.getElementById("stale");
  const parser = new DOMParser();
  let timer = null;
  let last = null;

  function busy(part) {
    return part.contains(document.activeElement) && document.activeElement !== document.body;
  }

  async function refresh() {
    timer = null;
    try {
      const reply = await fetch(window.location.href, { credentials: "same-origin" });
      if (!reply.ok || reply.redirected) { throw new Error(String(reply.status)); }
      const page = parser.parseFromString(await reply.text(), "text/html");
      document.querySelectorAll("[data-live]").forEach((part) => {
        const fresh = page.getElementById(part.id);
        if (fresh && !busy(part) && !fresh.isEqualNode(part)) {
          part.replaceWith(document.importNode(fresh, true));
        }
      });
      notice.hidden = true;
    } catch (e) {
      notice.hidden = false;
    }
  }

  const source = new EventSource("/tech/stream");
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    // The clock and uptime move every second: only what a person would see changed counts.
    delete s.now;
    if (s.health) { delete s.health.uptime_s; }
    if (s.session) { delete s.session.elapsed_s; delete s.session.remaining_s; }
    const shown = JSON.stringify(s);
    // The first message too: the station may have changed between the page and the stream.
    if (shown !== last && timer === null) { timer = setTimeout(refresh, 300); }
    last = shown;
  });
  // The minutes left and the time since the last sync move on their own: a quiet refresh.
  setInterval(() => { if (timer === null) { timer = setTimeout(refresh, 0); } }, 30000);
})();
