// The /sim panel: buttons over the simulator's JSON API. Words come from the page (catalogs).
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("sim-words").textContent);
  const result = document.getElementById("result");
  const now = document.getElementById("sim-now");

  async function send(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    result.textContent = JSON.stringify(await response.json(), null, 2);
    refreshNow();
  }

  // The station's time as people there read it: French format, the fablab's time zone.
  function localTime(iso, zone) {
    const options = { dateStyle: "short", timeStyle: "medium", timeZone: zone || "Europe/Paris" };
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || "fr", options).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  async function refreshNow() {
    const s = await (await fetch("/api/status")).json();
    now.textContent = words.now.replace("{now}", localTime(s.now, s.station.timezone));
  }

  async function loadBadges() {
    const list = document.getElementById("badges");
    if (!list) return;
    const rowTemplate = document.getElementById("badge-row");
    const { badges } = await (await fetch("/sim/badges")).json();
    for (const b of badges) {
      const row = rowTemplate.content.cloneNode(true);
      const button = row.querySelector("button");
      button.textContent = words.tap + " " + (b.name || b.member_id);
      button.dataset.uid = b.uid;
      button.addEventListener("click", () => send("/sim/badge", { uid: b.uid }));
      const parts = [words.roles[b.role] || b.role];
      if (b.role === "trainee") parts.push(words.levels[b.level] || b.level);
      parts.push(b.uid);
      if (!b.active) parts.push(words.inactive);
      row.querySelector(".who").textContent = parts.join(" · ");
      list.append(row);
    }
  }

  const unknown = document.getElementById("tap-unknown");
  if (unknown) unknown.addEventListener("click", () => send("/sim/badge", { uid: "DEADBEEF" }));
  for (const b of document.querySelectorAll(".advance")) {
    b.addEventListener("click", () => send("/sim/advance", { seconds: Number(b.dataset.seconds) }));
  }
  const power = document.getElementById("power-form");
  if (power) power.addEventListener("submit", (e) => { e.preventDefault(); send("/sim/power", { watts: Number(power.watts.value) }); });
  const air = document.getElementById("air-form");
  if (air) air.addEventListener("submit", (e) => { e.preventDefault(); send("/sim/air", { pm25: Number(air.pm25.value) }); });
  loadBadges();
  refreshNow();
})();
