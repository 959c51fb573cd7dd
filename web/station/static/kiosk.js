// The kiosk: draws every screen from the station's status and its last decision.
// Live over server-sent events; no build step, no CDN. Every visible word comes from the
// catalogs (t("key")); names are put in with textContent, never as HTML.
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const catalogs = boot.catalogs;
  const DECISION_ACTIONS = new Set([
    "denied", "session_ended", "qualification_granted", "check_cleared", "fault_cleared", "already_supervising",
    "waiting_expired", "session_stopped", "finishing_yours",
  ]);
  // Taps that changed nothing: said in a notice on top of the screen they met, never instead of it.
  const NOTICE_ACTIONS = new Set(["repeat_tap", "grant_not_yet", "grant_expired", "cannot_supervise", "already_waiting",
    "takeover"]);
  const POWER_FAULT = "power_without_permission";
  const BROKEN = "problem_reported:broken";
  const IDLE_LANGUAGE_RESET_MS = 120000;
  // The stream sends a heartbeat every 15 s: past this silence (or a lost connection this long),
  // the station is down and the screen says so instead of showing a stale « Libre ».
  const SILENCE_MS = 40000;
  const LOST_MS = 8000;

  const ui = {
    body: document.body,
    screen: document.getElementById("screen"),
    machineName: document.getElementById("machine-name"),
    pill: document.getElementById("state-pill"),
    offline: document.getElementById("offline"),
    sound: document.getElementById("sound-toggle"),
    lang: document.getElementById("lang-toggle"),
    problemButton: document.getElementById("problem-button"),
    dialog: document.getElementById("problem-dialog"),
    problemResult: document.getElementById("problem-result"),
    problemBack: document.getElementById("problem-back"),
  };

  const state = {
    status: boot.status,
    receivedAt: performance.now(),
    lang: boot.language,
    csrf: boot.csrf,
    screenKey: null,
    lastTouch: performance.now(),
    lastCueKey: null,
    checked: new Set(),
    checklistKey: null,
    sound: localStorage.getItem("kiosk.sound") === "on",
    source: null,
    heardAt: performance.now(),
    lostSince: null,
  };
  window.kiosk = state; // for the browser tests and the benchmark
  window.kioskWords = { t, tn }; // for the browser tests

  // --- words --------------------------------------------------------------------------------

  function t(key, values, fallback) {
    const count = values && typeof values.count === "number" ? values.count : null;
    return tn(key, count, values, fallback);
  }

  // A plural entry is {one: ..., other: ...} (CLDR categories): the language's rules pick the form
  // (French: 0 and 1 are singular). Without a count, the "other" form.
  function tn(key, count, values, fallback) {
    const own = (catalogs[state.lang] || {})[key];
    const lang = own === undefined ? "fr" : state.lang;
    let message = own ?? catalogs.fr[key] ?? fallback ?? key;
    if (typeof message === "object") {
      const category = count === null ? "other" : new Intl.PluralRules(lang).select(count);
      message = message[category] ?? message.other;
    }
    const all = Object.assign({ count: count }, values);
    const text = message.replace(/\{(\w+)\}/g, (m, name) =>
      all[name] !== undefined && all[name] !== null ? String(all[name]) : m);
    return lang === "fr" ? frenchSpaces(text) : text;
  }

  // French puts a space before « : ; ! ? »: a no-break one, so a narrow screen never starts a
  // line with the sign (« est à jour / : elle doit… »).
  function frenchSpaces(text) {
    return text.replace(/ ([:;!?])/g, "\u00a0$1");
  }

  function kindName(kind) {
    return t("kind." + kind, null, kind);
  }

  // « Moussa, Samir ou Chloé »: a list a 16-year-old reads aloud.
  function names(list) {
    if (list.length < 2) return list.join("");
    return list.slice(0, -1).join(t("list.sep")) + t("list.or") + list[list.length - 1];
  }

  function kindOn(kind) {
    return t("kind.on." + kind, null, kindName(kind));
  }

  // Numbers and times the French way (« 1 234 », « 14:05 »), in the fablab's time zone.
  function number(value) {
    return new Intl.NumberFormat(state.lang, { maximumFractionDigits: 0 }).format(value);
  }

  function clockTime(iso) {
    const zone = (state.status.station && state.status.station.timezone) || "Europe/Paris";
    try {
      return new Intl.DateTimeFormat(state.lang, { hour: "2-digit", minute: "2-digit", timeZone: zone }).format(new Date(iso));
    } catch (e) {
      return new Intl.DateTimeFormat(state.lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
    }
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  // --- time: the station's clock (it may be simulated), extrapolated between updates --------

  function serverNow() {
    return Date.parse(state.status.now) + (performance.now() - state.receivedAt);
  }

  // A simulated clock that has not moved sends the same time again (a sync, a sensor reading):
  // going on from when that time first came keeps screens timing out and countdowns running.
  function sameSimulatedInstant(previous, s) {
    return Boolean(s.station.simulated_clock && previous && previous.now === s.now);
  }

  function secondsUntil(iso) {
    return (Date.parse(iso) - serverNow()) / 1000;
  }

  function secondsSince(iso) {
    return (serverNow() - Date.parse(iso)) / 1000;
  }

  // --- choosing the screen ------------------------------------------------------------------

  function recentDecision(s) {
    const d = s.last_decision;
    if (!d || !d.at || !d.action) return null;
    const limit = (boot.display_s[d.action] ?? boot.display_s.default) * 1000;
    const age = s.station.simulated_clock ? simulatedDecisionAge(d, s) : serverNow() - Date.parse(d.at);
    return age >= 0 && age < limit ? d : null;
  }

  // A simulated clock may stand still for minutes: a decision's age is the real time since
  // the kiosk first saw it, plus the time the station's clock moved since the decision.
  function simulatedDecisionAge(d, s) {
    const key = decisionKey(d);
    if (state.seenDecision !== key) {
      state.seenDecision = key;
      state.decisionSeenAt = performance.now();
    }
    return performance.now() - state.decisionSeenAt + (Date.parse(s.now) - Date.parse(d.at));
  }

  // Each decision has its own id (and seq): two at one instant are two screens.
  function decisionKey(d) {
    return d.id || d.at + ":" + (d.seq ?? "") + ":" + d.action;
  }

  function chooseScreen(s) {
    if (stationDown(s)) return downScreen();
    const view = baseScreen(s);
    const d = recentDecision(s);
    if (d && NOTICE_ACTIONS.has(d.action) && !(d.action === "takeover" && !d.took_over_from)) {
      view.notice = noticeFor(d, s);
      view.key += ":notice:" + decisionKey(d);
    }
    return view;
  }

  // The station is down: its stream is lost for a while, silent, or its controller stopped.
  function stationDown(s) {
    const now = performance.now();
    if (state.lostSince !== null && now - state.lostSince > LOST_MS) return true;
    if (now - state.heardAt > SILENCE_MS) return true;
    return !!(s.health && s.health.controller === "stopped");
  }

  function downScreen() {
    return { key: "down", tone: "blocked", icon: "warn", title: t("kiosk.down.title"),
      lines: [t("kiosk.down.safe"), t("kiosk.down.next")], pill: t("kiosk.down.pill") };
  }

  function noticeFor(d, s) {
    const values = { name: d.member_name, supervisor: d.supervisor_name, trainee: d.trainee_name,
      waiting: d.waiting_name, previous: d.took_over_from,
      kind: kindOn(s.machine.kind) };
    if (d.action === "repeat_tap") {
      return { tone: "info", title: t("kiosk.repeat.title", values), text: tn("kiosk.repeat.next", Math.round(d.guard_s ?? 0), values) };
    }
    if (d.action === "takeover") {
      return { tone: "info", title: t("kiosk.takeover.title", values), text: t("kiosk.takeover.next", values) };
    }
    if (d.action === "cannot_supervise") {
      const helpers = d.helpers || [];
      const text = helpers.length ? t("kiosk.cannot_supervise.helpers", { ...values, names: names(helpers) })
        : t("kiosk.cannot_supervise.next", values);
      return { tone: "warn", title: t("kiosk.cannot_supervise.title", values), text };
    }
    if (d.action === "already_waiting") {
      return { tone: "warn", title: t("kiosk.already_waiting.title", values), text: t("kiosk.already_waiting.next", values) };
    }
    if (d.action === "grant_not_yet") {
      return { tone: "info", title: t("kiosk.grant.not_yet.title", values), text: t("kiosk.grant.not_yet.next", values) };
    }
    return { tone: "info", title: t("kiosk.grant.too_late.title", values), text: t("kiosk.grant.too_late.next", values) };
  }

  function baseScreen(s) {
    const m = s.machine;
    const d = recentDecision(s);
    if (m.state === "fault") return faultScreen(s);
    if (m.state === "out_of_service") return blocked("out_of_service", "kiosk.out_of_service", m.reason);
    if (d && DECISION_ACTIONS.has(d.action)) return decisionScreen(d, s);
    if (s.checklist) return checklistScreen(s.checklist, s.last_decision);
    if (s.waiting) return waitingScreen(s.waiting, s.last_decision);
    if (s.grant && s.session) return grantScreen(s.grant, s.session, m.kind);
    if (s.session) return sessionScreen(s, d);
    if (m.state === "finishing") {
      const f = s.finishing;
      return { key: "finishing", tone: "info", icon: "wait", title: f && f.member_name ? f.member_name : t("state.finishing"),
        lines: [t("kiosk.finishing.hint")] };
    }
    if (m.state === "to_check" && m.reason === BROKEN) {
      return { key: "to_check:broken", tone: "warn", icon: "tool", title: t("kiosk.to_check_broken.title"),
        lines: [t("kiosk.to_check_broken.next")] };
    }
    if (m.state === "to_check") return toCheckScreen(s);
    if (s.roster_expired) {
      // Only staff get in: the screen says so first, not « Badge ta carte ».
      return { key: "idle:staff_only:" + !!s.roster_age_unknown, tone: "warn", icon: "warn",
        title: t("kiosk.staff_only.title"),
        lines: [t(s.roster_age_unknown ? "denial.roster_expired.unknown_age" : "kiosk.staff_only"), t("kiosk.staff_only.next")] };
    }
    return { key: "idle", tone: "idle", icon: "card", title: t("kiosk.idle.title"), lines: [t("kiosk.idle.hint")] };
  }

  // To check: why (after every use, or a reported problem) and who may clear it.
  function toCheckScreen(s) {
    const reason = s.machine.reason || "";
    const why = reason.startsWith("problem_reported:") ? "kiosk.to_check.why." + reason.split(":")[1]
      : "kiosk.to_check.why." + (reason || "other");
    return { key: "to_check:" + reason, tone: "warn", icon: "tool", title: t("kiosk.to_check.title"),
      lines: [t(why, null, t("kiosk.to_check.why.other")), t("kiosk.to_check.who", { kind: kindOn(s.machine.kind) })] };
  }

  // The air alarm says what is wrong and what to do: the fumes, or a silent sensor.
  function faultScreen(s) {
    const cause = s.air && s.air.alarm;
    if (cause === "pm25") {
      return { key: "fault:air_pm25", tone: "blocked", icon: "warn", title: t("kiosk.air_pm25.title"),
        lines: [t("kiosk.air_pm25.next"), airValue(s.air)] };
    }
    if (cause === "sensor_lost") {
      return { key: "fault:air_sensor_lost", tone: "blocked", icon: "warn",
        title: t("kiosk.air_sensor_lost.title"), lines: [t("kiosk.air_sensor_lost.next")] };
    }
    const reason = s.machine.reason || "";
    if (reason.startsWith("plug_")) {  // the smart plug did not answer, or cut by itself
      const kind = reason.slice(5);
      return { key: "fault:" + reason, tone: "blocked", icon: "warn", title: t("kiosk.plug_fault.title"),
        lines: [t("kiosk.plug_fault." + kind, null, t("kiosk.fault.next")), t("kiosk.plug_fault.next")] };
    }
    if (s.machine.reason === POWER_FAULT) {
      const lines = [t("kiosk.power_fault.next")];
      const watts = s.power && s.power.watts;
      if (typeof watts === "number" && watts > 0) lines.push(t("kiosk.power_fault.value", { watts: number(watts) }));
      return { key: "fault:" + POWER_FAULT, tone: "blocked", icon: "warn", title: t("kiosk.power_fault.title"), lines };
    }
    return blocked("fault", "kiosk.fault", null);
  }

  function airValue(air) {
    return t("kiosk.air.value", { pm25: number(Math.round(air.pm25 ?? 0)), threshold: number(Math.round(air.threshold ?? 0)) });
  }

  function blocked(name, prefix, reason) {
    const lines = [t(prefix + ".next")];
    if (reason) lines.push(t("kiosk.out_of_service.reason", { reason }));
    return { key: name + ":" + (reason || ""), tone: name === "to_check" ? "warn" : "blocked",
      icon: name === "to_check" ? "tool" : "warn", title: t(prefix + ".title"), lines };
  }

  function decisionScreen(d, s) {
    const key = "decision:" + decisionKey(d);
    if (d.action === "denied") {
      const reason = d.reason || "unknown_badge";
      const lines = [];
      if (reason === "machine_in_use" && d.in_use_by) lines.push(t("denial.machine_in_use.by", { name: d.in_use_by }));
      const helpers = d.helpers || [];
      if (reason === "not_qualified") {
        lines.push(...trainingLines(d, s));
      } else if (reason === "needs_supervisor") {
        lines.push(helpers.length ? t("helpers.ask", { names: names(helpers) }) : t("denial." + reason + ".next"));
      } else if (reason === "site_induction_needed") {
        const trainers = d.trainers || [];
        lines.push(trainers.length ? t("denial.site_induction_needed.trainers", { names: names(trainers) })
          : t("denial.site_induction_needed.next"));
      } else if (reason === "roster_expired" && s.roster_age_unknown) {
        lines.push(t("denial.roster_expired.unknown_age"), t("kiosk.staff_only.next"));
      } else if (reason === "to_check" && d.machine_reason === BROKEN) {
        lines.push(t("denial.to_check.broken"));
      } else {
        lines.push(t("denial." + reason + ".next"));
      }
      return { key, tone: "deny", icon: "no", reason,
        title: t("denial." + reason + ".title", { kind: kindName(s.machine.kind) }), lines };
    }
    if (d.action === "waiting_expired") {
      return { key, tone: "deny", icon: "wait", title: t("kiosk.waiting_expired.title", { name: d.member_name }),
        lines: [t("kiosk.waiting_expired.next")] };
    }
    if (d.action === "session_stopped") {
      const why = d.end_reason || "timeout";
      return { key, tone: "warn", icon: "wait", title: t("kiosk.stopped." + why + ".title", { name: d.member_name }),
        lines: [t("kiosk.stopped." + why + ".next", { name: d.member_name, time: clockTime(d.at) })] };
    }
    if (d.action === "session_ended") return endScreen(key, d);
    if (d.action === "finishing_yours") {
      return { key, tone: "info", icon: "wait", title: t("kiosk.finishing.yours.title", { name: d.member_name }),
        lines: [t("kiosk.finishing.yours.next")] };
    }
    if (d.action === "qualification_granted") {
      const lines = [t("kiosk.granted.next", { kind: kindName(s.machine.kind) })];
      if (d.granted_by) lines.push(t("kiosk.granted.by", { name: d.granted_by }));
      return { key, tone: "grant", icon: "star", title: t("kiosk.granted.title", { name: d.member_name }), lines };
    }
    if (d.action === "check_cleared") {
      return { key, tone: "ok", icon: "ok", title: t("kiosk.check_cleared.title"),
        lines: [t("kiosk.check_cleared.next", { name: d.member_name })] };
    }
    if (d.action === "fault_cleared") {
      return { key, tone: "ok", icon: "ok", title: t("kiosk.fault_cleared.title"),
        lines: [t("kiosk.check_cleared.next", { name: d.member_name })] };
    }
    return { key, tone: "info", icon: "ok", title: t("kiosk.already_supervising.title"),
      lines: [t("kiosk.already_supervising.next")] };
  }

  // Level « none »: a co-badge cannot admit her. Who trains her, and how.
  function trainingLines(d, s) {
    const trainers = d.trainers || [];
    const mentors = d.mentors || [];
    const values = { kind: kindOn(s.machine.kind), names: names(trainers), mentors: names(mentors) };
    const lines = [t(trainers.length ? "denial.not_qualified.trainers" : "denial.not_qualified.next", values)];
    // The learning path: the induction quiz first, then a first supervised session.
    if (d.next_step === "induction") lines.unshift(t("denial.not_qualified.induction", values));
    if (mentors.length) lines.push(tn("denial.not_qualified.mentors", mentors.length, values));
    return lines;
  }

  // The end screen tells the whole job, its finishing phase included (« 42 min · 0,10 kWh »).
  // At badge-out while the job runs on, it says so and whose it is; tidying up waits for the end.
  function endScreen(key, d) {
    if (d.finishing && !d.job) {
      return { key, tone: "info", icon: "wait", title: t("kiosk.ended.finishing.title", { name: d.member_name }),
        lines: [t("kiosk.ended.finishing.next")] };
    }
    const job = d.job;
    let figures = null;
    if (job && typeof job.duration_s === "number") {
      figures = typeof job.energy_wh === "number"
        ? t("kiosk.ended.job", { duration: formatDuration(job.duration_s), energy: formatKwh(job.energy_wh) })
        : formatDuration(job.duration_s);
    }
    return { key, tone: "ok", icon: "ok", title: t("kiosk.ended.title"), figures,
      lines: [t("kiosk.ended.next", { name: d.member_name })] };
  }

  // As web/common/format.py says them: « 45 s », « 42 min », « 1 h 05 »; « 0,10 kWh ».
  function formatDuration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return t("kiosk.unit.seconds", { n: s });
    const minutes = Math.round(s / 60);
    if (minutes < 60) return t("kiosk.unit.minutes", { n: minutes });
    return t("kiosk.unit.hours_minutes", { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") });
  }

  function formatKwh(wh) {
    const number = new Intl.NumberFormat(state.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return t("kiosk.unit.kwh", { n: number.format(wh / 1000) });
  }

  function waitingScreen(w, d) {
    const lines = [t("kiosk.waiting.next")];
    const helpers = d && d.action === "waiting_for_supervisor" ? d.helpers || [] : [];
    if (helpers.length) lines.push(t("kiosk.waiting.helpers", { names: names(helpers) }));
    return { key: "waiting:" + w.expires_at, tone: "wait", icon: "wait",
      title: t("kiosk.waiting.title", { name: w.member_name }), lines,
      countdown: { until: w.expires_at, key: "kiosk.waiting.countdown" } };
  }

  // The grant gesture, step by step: who does what next, to which level, on which machine.
  // A grant is always by the session's supervisor, for the session's trainee.
  function grantScreen(g, session, kind) {
    const values = { supervisor: session.supervisor_name || "", trainee: session.member_name,
      level: t("level.autonomous").toLowerCase(), kind: kindOn(kind) };
    const step = g.step >= 2 ? "accept" : g.step === 1 ? "confirm" : "expired";
    const tone = step === "expired" ? "warn" : "grant";
    const lines = ["next", "trainee"].map((part) => t("kiosk.grant." + step + "." + part, values));
    return { key: "grant:" + g.step + ":" + g.expires_at, tone, icon: step === "expired" ? "wait" : "star",
      title: t("kiosk.grant." + step + ".title", values), lines,
      countdown: { until: g.expires_at, key: step === "expired" ? "kiosk.grant.expired.countdown" : "kiosk.waiting.countdown" } };
  }

  function checklistScreen(c, d) {
    if (state.checklistKey !== c.expires_at) {
      state.checklistKey = c.expires_at;
      state.checked = new Set();
    }
    const lines = [t("kiosk.checklist.hello", { name: c.member_name })];
    // After a mentor-first handover: the trainee confirms her own checklist, with her mentor.
    if (d && d.action === "checklist" && d.supervisor_name && d.member_id === c.member_id) {
      lines.push(t("kiosk.checklist.with", { name: d.supervisor_name }));
    }
    // One paragraph: six items and the buttons must still fit on 800×480.
    return { key: "checklist:" + c.expires_at, tone: "wait", icon: null,
      title: t("kiosk.checklist.title"), lines: [lines.join(" ")],
      checklist: c.items, countdown: { until: c.expires_at, key: "kiosk.waiting.countdown" } };
  }

  function sessionScreen(s, d) {
    const session = s.session;
    const warned = session.warned && s.machine.state === "in_use";
    const extended = d && (d.action === "session_extended" || d.action === "idle_extended");
    const idle = session.idle_warned && s.machine.state === "in_use";
    const lines = [];
    if (session.supervisor_name) lines.push(t("kiosk.session.with", { name: session.supervisor_name }));
    let banner = null;
    const airAlarm = s.air && s.air.alarm;
    if (airAlarm) banner = { tone: "warn", title: t("kiosk.air_alarm.during"), text: t("kiosk.air_alarm.during_next") };
    else if (s.machine.state === "finishing") banner = { tone: "info", text: t("kiosk.finishing.hint") };
    else if (warned) banner = { tone: "warn", countdownKey: "kiosk.warning.title", until: session.ends_at, text: t("kiosk.warning.next") };
    else if (idle && session.idle_off_at) {
      banner = { tone: "warn", title: t("kiosk.idle_warning.title"), countdownKey: "kiosk.idle_warning.countdown",
        until: session.idle_off_at, text: t("kiosk.idle_warning.next") };
    } else if (idle) banner = { tone: "warn", title: t("kiosk.idle_warning.title"), text: t("kiosk.idle_warning.next") };
    else if (extended) banner = { tone: "ok", text: t("kiosk.session.extended") };
    else lines.push(t("kiosk.session.end_hint"));
    // The « time left » tile tells the nearest end: the idle stop when it comes first.
    const idleFirst = idle && session.idle_off_at && Date.parse(session.idle_off_at) < Date.parse(session.ends_at);
    const until = idleFirst ? session.idle_off_at : session.ends_at;
    return { key: ["session", session.id, s.machine.state, warned, idle, extended, airAlarm, until].join(":"),
      tone: warned || idle || airAlarm ? "warn" : "ok", icon: null, title: session.member_name, lines, session, banner, until };
  }

  // --- drawing ------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const use = document.createElementNS(ns, "use");
    use.setAttribute("href", "#i-" + name);
    svg.append(use);
    return svg;
  }

  function tile(label, valueNode) {
    return el("div", { class: "tile" }, el("span", { class: "tile-label", text: label }), valueNode);
  }

  function draw(view) {
    const screen = ui.screen;
    screen.replaceChildren();
    screen.dataset.screen = view.key.split(":")[0];
    if (view.reason) screen.dataset.reason = view.reason; else delete screen.dataset.reason;
    // Long words (names, lists) on a small screen: smaller type rather than text under the footer.
    const extra = [view.banner, view.notice].map((b) => (b ? (b.title || "") + (b.text || "") : "")).join("");
    const length = view.title.length + view.lines.join(" ").length + extra.length;
    screen.classList.toggle("dense", length > 150);
    if (view.icon) screen.append(icon(view.icon));
    screen.append(el("h2", { id: "title", text: view.title }));
    if (view.figures) screen.append(el("p", { class: "figures", id: "figures", text: view.figures }));
    for (const line of view.lines) screen.append(el("p", { class: "lead", text: line }));
    if (view.session) {
      const session = view.session;
      const stats = el("div", { class: "tiles" },
        tile(t("kiosk.session.elapsed"), el("span", { class: "tile-value", "data-since": session.started_at, id: "elapsed" })),
        tile(t("kiosk.session.remaining"), el("span", { class: "tile-value", "data-until": view.until || session.ends_at, id: "remaining" })));
      const power = el("span", { class: "tile-value", id: "power" });
      const powerTile = tile(t("kiosk.session.power"), power);
      powerTile.id = "power-tile";
      stats.append(powerTile);
      screen.append(stats);
    }
    if (view.banner) {
      const b = el("div", { class: "banner tone-" + view.banner.tone, role: "alert" });
      if (view.banner.title) b.append(el("strong", { class: "banner-title", text: view.banner.title }));
      if (view.banner.countdownKey) {
        b.append(el("strong", { "data-until": view.banner.until, "data-template": view.banner.countdownKey, class: "banner-title" }));
      }
      b.append(el("span", { text: view.banner.text }));
      screen.append(b);
    }
    if (view.notice) {
      const n = el("div", { class: "banner notice tone-" + view.notice.tone, role: "status", id: "notice" });
      n.append(el("strong", { class: "banner-title", text: view.notice.title }));
      n.append(el("span", { text: view.notice.text }));
      screen.append(n);
    }
    if (view.checklist) {
      const form = checklistForm(view.checklist);
      form.querySelector(".actions").append(
        el("p", { class: "countdown", "data-until": view.countdown.until, "data-template": view.countdown.key }));
      screen.append(form);
    } else if (view.countdown) {
      screen.append(el("p", { class: "countdown", "data-until": view.countdown.until, "data-template": view.countdown.key }));
    }
  }

  function checklistForm(items) {
    const list = el("ul", { class: items.length > 3 ? "checklist many" : "checklist" });
    const confirm = el("button", { type: "button", class: "primary", id: "checklist-confirm", text: t("kiosk.checklist.confirm") });
    const cancel = el("button", { type: "button", class: "secondary", id: "checklist-cancel", text: t("kiosk.checklist.cancel") });
    const sync = () => { confirm.disabled = state.checked.size < items.length; };
    items.forEach((item, i) => {
      const box = el("input", { type: "checkbox", id: "check-" + i });
      box.checked = state.checked.has(i);
      box.addEventListener("change", () => {
        if (box.checked) state.checked.add(i); else state.checked.delete(i);
        sync();
      });
      list.append(el("li", {}, box, el("label", { for: "check-" + i, text: item })));
    });
    confirm.addEventListener("click", () => post(boot.urls.checklist, { answer: "confirm" }));
    cancel.addEventListener("click", () => post(boot.urls.checklist, { answer: "cancel" }));
    sync();
    return el("div", { class: "checklist-form" }, list, el("div", { class: "actions" }, cancel, confirm));
  }

  function tick() {
    for (const node of ui.screen.querySelectorAll("[data-until]")) {
      const text = duration(secondsUntil(node.dataset.until));
      node.textContent = node.dataset.template ? t(node.dataset.template, { time: text }) : text;
    }
    for (const node of ui.screen.querySelectorAll("[data-since]")) {
      node.textContent = duration(secondsSince(node.dataset.since));
    }
    const power = document.getElementById("power");
    if (power) {
      const watts = powerWatts(state.status);
      document.getElementById("power-tile").hidden = watts === null;
      if (watts !== null) power.textContent = t("kiosk.session.power_value", { watts: number(watts) });
    }
  }

  function powerWatts(s) {
    // Filled by the metering side when a power meter is fitted; hidden otherwise.
    const candidates = [s.power && s.power.watts, s.session && s.session.power_w, s.session && s.session.watts];
    for (const w of candidates) if (typeof w === "number") return w;
    return null;
  }

  function render(force) {
    const s = state.status;
    const view = chooseScreen(s);
    const key = view.key + "|" + state.lang;
    ui.body.className = "tone-" + view.tone;
    ui.machineName.textContent = s.station.name;
    ui.pill.dataset.state = view.key === "down" ? "down" : s.machine.state;
    ui.pill.textContent = view.pill || t("state." + s.machine.state);
    if (force || key !== state.screenKey) {
      state.screenKey = key;
      draw(view);
    }
    tick();
    if (ui.screen.dataset.screen === "idle" && state.lang !== boot.language &&
        performance.now() - state.lastTouch > IDLE_LANGUAGE_RESET_MS) {
      setLanguage(boot.language);
    }
  }

  function translateStatic() {
    document.documentElement.lang = state.lang;
    document.title = t("kiosk.title", { machine: state.status.station.name });
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    ui.lang.setAttribute("lang", t("language.other_code"));
  }

  function setLanguage(lang) {
    state.lang = lang;
    translateStatic();
    render(true);
  }

  // --- sound cues (optional; the Web Audio API, no files) -------------------------------------

  let audio = null;
  const CUES = { ok: [[660, 0.12], [880, 0.18]], deny: [[220, 0.35]], wait: [[520, 0.15]],
    warn: [[880, 0.15], [0, 0.1], [880, 0.15]], grant: [[523, 0.12], [659, 0.12], [784, 0.12], [1047, 0.3]] };

  function play(name) {
    if (!state.sound || !CUES[name]) return;
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    let at = audio.currentTime;
    for (const [freq, length] of CUES[name]) {
      if (freq) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(at);
        osc.stop(at + length);
      }
      at += length;
    }
  }

  function cueFor(previous, s) {
    const d = s.last_decision;
    if (d && d.at && (!previous.last_decision || decisionKey(previous.last_decision) !== decisionKey(d))) {
      const cue = { denied: "deny", session_started: "ok", takeover: "ok", session_ended: "ok", check_cleared: "ok",
        fault_cleared: "ok", grant_not_yet: "wait", grant_expired: "wait",
        session_extended: "ok", idle_extended: "ok", qualification_granted: "grant", waiting_for_supervisor: "wait", checklist: "wait",
        grant_confirm_supervisor: "wait", grant_awaiting_trainee: "wait", waiting_expired: "deny", session_stopped: "warn",
        cannot_supervise: "deny", already_waiting: "deny" }[d.action];
      if (cue) play(cue);
    }
    if (s.session && s.session.warned && !(previous.session && previous.session.warned)) play("warn");
  }

  // --- talking to the station ---------------------------------------------------------------

  function onStatus(s) {
    const previous = state.status;
    state.status = s;
    if (!sameSimulatedInstant(previous, s)) state.receivedAt = performance.now();
    heard();
    cueFor(previous, s);
    render(false);
  }

  function heard() {
    state.heardAt = performance.now();
    state.lostSince = null;
    ui.offline.hidden = true;
  }

  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource(boot.urls.stream);
    state.source = source;
    source.addEventListener("open", heard);
    source.addEventListener("ping", heard);
    source.addEventListener("status", (e) => onStatus(JSON.parse(e.data)));
    source.addEventListener("error", () => {
      ui.offline.hidden = false;
      if (state.lostSince === null) state.lostSince = performance.now();
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    });
  }

  async function post(url, body, retried) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (response.status === 400 && !retried) {
      const fresh = await fetch(boot.urls.token, { credentials: "same-origin" });
      if (fresh.ok) {
        state.csrf = (await fresh.json()).csrf;
        return post(url, body, true);
      }
    }
    return response;
  }

  // --- the problem dialog -------------------------------------------------------------------

  function openProblems() {
    ui.problemResult.textContent = "";
    ui.dialog.querySelectorAll(".choice").forEach((b) => { b.disabled = false; });
    ui.dialog.showModal();
  }

  async function report(code) {
    ui.dialog.querySelectorAll(".choice").forEach((b) => { b.disabled = true; });
    let message = t("kiosk.problem.failed");
    try {
      const response = await post(boot.urls.problem, { problem: code });
      if (response.ok) {
        await response.json();
        message = t(boot.problems[code] ? "kiosk.problem.thanks_check" : "kiosk.problem.thanks");
      }
    } catch (e) {
      // the message says it did not work
    }
    ui.problemResult.textContent = message;
    setTimeout(() => { if (ui.dialog.open) ui.dialog.close(); }, 5000);
  }

  // --- start --------------------------------------------------------------------------------

  ui.sound.setAttribute("aria-pressed", String(state.sound));
  ui.sound.addEventListener("click", () => {
    state.sound = !state.sound;
    localStorage.setItem("kiosk.sound", state.sound ? "on" : "off");
    ui.sound.setAttribute("aria-pressed", String(state.sound));
    play("ok");
  });
  ui.lang.addEventListener("click", () => setLanguage(t("language.other_code")));
  ui.problemButton.addEventListener("click", openProblems);
  ui.problemBack.addEventListener("click", () => ui.dialog.close());
  ui.dialog.querySelectorAll(".choice").forEach((b) => b.addEventListener("click", () => report(b.dataset.problem)));
  document.addEventListener("pointerdown", () => { state.lastTouch = performance.now(); }, true);

  state.show = onStatus; // the layout tests draw made-up statuses (long names, six items)
  translateStatic();
  render(true);
  setInterval(() => render(false), 500);
  connect();
})();
