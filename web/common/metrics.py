"""Prometheus metrics of the station and of the central store, on ``/metrics``.

Only addresses in the configured networks may read them (``[web] metrics_from`` on a station,
``[server] metrics_from`` on the central store; loopback by default, empty: no ``/metrics``):
the figures say when machines are used, which is the fablab's business only.

Nothing in ``station/`` or ``central/`` is instrumented: the station's figures come from what the
controller already broadcasts (every event, every status) and from its status at scrape time;
the central store's from its sync API's answers. Counters start at zero with the process, as
Prometheus expects. A Grafana dashboard for them is ``docs/grafana-dashboard.json``.
"""

from __future__ import annotations

import ipaddress
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def network_problem(values: list[str]) -> str | None:
    """For the config check: each value an address or a network (``192.168.1.0/24``)."""
    for v in values:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            return f"{v!r} is not an address or a network such as 192.168.1.0/24"
    return None


def _allowed(allow: list[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(addr in net for net in allow)


class _HttpCounter:
    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()
        self.lock = threading.Lock()

    def count(self, response: Response) -> Response:
        with self.lock:
            self.codes[str(response.status_code)] += 1
        return response

    def family(self, app: str) -> Metric:
        m = CounterMetricFamily(
            "fabrique_http_responses", "HTTP responses by status code", labels=["app", "code"]
        )
        with self.lock:
            for code, n in sorted(self.codes.items()):
                m.add_metric([app, code], n)
        return m


def _serve(app: Flask, registry: CollectorRegistry, allow: list[Network]) -> None:
    @app.get("/metrics")
    def metrics() -> Response:
        if not allow:
            abort(404)
        if not _allowed(allow):
            abort(403, "metrics are readable from the configured networks only (metrics_from)")
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


# --- the station ------------------------------------------------------------------------------


class StationCollector(Collector):
    """Counts the controller's broadcasts on a thread of its own; gauges read at scrape time."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.http = _HttpCounter()
        self.events: Counter[str] = Counter()
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.energy_wh = 0.0
        self.relay_on_s = 0.0
        self._relay_since: float | None = None
        self._last_decision: Any = None
        self._lock = threading.Lock()
        self._queue = controller.broadcaster.subscribe()
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Until the controller has stopped (then the thread ends: tests build many apps)."""
        while not self.controller.wait_stopped(0):
            try:
                message = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            with self._lock:
                self._take(message)
        self.controller.broadcaster.unsubscribe(self._queue)

    def _take(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "event":
            event = message["event"]
            self.events[event["type"]] += 1
            data = event.get("data") or {}
            if event["type"] in ("session_ended", "finishing_ended"):
                energy = data.get("energy_wh")
                if isinstance(energy, int | float) and not isinstance(energy, bool):
                    self.energy_wh += float(energy)
        elif message.get("kind") == "status":
            status = message["status"]
            self._relay(bool((status.get("machine") or {}).get("relay_on")))
            decision = status.get("last_decision")
            if decision and decision.get("id") != self._last_decision:
                self._last_decision = decision.get("id")
                key = (str(decision.get("action")), str(decision.get("reason") or ""))
                self.decisions[key] += 1

    def _relay(self, on: bool) -> None:
        now = time.monotonic()
        if self._relay_since is not None:
            self.relay_on_s += now - self._relay_since
        self._relay_since = now if on else None

    def collect(self) -> Iterator[Metric]:
        status = self.controller.status()
        with self._lock:
            self._relay(bool((status.get("machine") or {}).get("relay_on")))
            events, decisions = dict(self.events), dict(self.decisions)
            energy, relay_s = self.energy_wh, self.relay_on_s
        config = self.controller.config
        info = GaugeMetricFamily(
            "fabrique_station_info", "This station", labels=["station", "machine", "kind"]
        )
        info.add_metric([config.station.id, config.machine.id, config.machine.kind], 1)
        yield info
        machine = status.get("machine") or {}
        state = GaugeMetricFamily(
            "fabrique_station_machine_state", "1 for the machine's current state", labels=["state"]
        )
        for s in ("available", "in_use", "finishing", "to_check", "out_of_service", "fault"):
            state.add_metric([s], 1.0 if machine.get("state") == s else 0.0)
        yield state
        yield GaugeMetricFamily(
            "fabrique_station_relay_on",
            "1 while the relay (or plug) is on",
            value=1.0 if machine.get("relay_on") else 0.0,
        )
        yield CounterMetricFamily(
            "fabrique_station_relay_on_seconds", "Time the relay was on", value=relay_s
        )
        ev = CounterMetricFamily("fabrique_station_events", "Events recorded", labels=["type"])
        for t, n in sorted(events.items()):
            ev.add_metric([t], n)
        yield ev
        yield CounterMetricFamily(
            "fabrique_station_sessions",
            "Sessions started",
            value=events.get("session_started", 0),
        )
        dec = CounterMetricFamily(
            "fabrique_station_decisions",
            "Decisions on taps and commands, by action and reason",
            labels=["action", "reason"],
        )
        for (action, reason), n in sorted(decisions.items()):
            dec.add_metric([action, reason], n)
        yield dec
        yield CounterMetricFamily(
            "fabrique_station_energy_wh", "Energy of ended sessions and jobs (Wh)", value=energy
        )
        watts = (status.get("power") or {}).get("watts")
        if isinstance(watts, int | float):
            yield GaugeMetricFamily("fabrique_station_power_watts", "Last power", value=watts)
        sync = status.get("sync") or {}
        if sync.get("enabled"):
            yield GaugeMetricFamily(
                "fabrique_station_sync_backlog",
                "Events not yet at the central store",
                value=float(sync.get("backlog") or 0),
            )
            yield GaugeMetricFamily(
                "fabrique_station_sync_failures",
                "Sync failures in a row (0: the last worked)",
                value=float(sync.get("failures") or 0),
            )
        yield self.http.family("station")


def init_station_metrics(app: Flask, controller: Any, allow: list[str]) -> StationCollector:
    registry = CollectorRegistry(auto_describe=True)
    collector = StationCollector(controller)
    registry.register(collector)
    app.after_request(collector.http.count)
    _serve(app, registry, networks(allow))
    app.extensions["metrics"] = collector
    return collector


# --- the central store ------------------------------------------------------------------------


class CentralCollector(Collector):
    """The sync API's answers (ingest rate, refusals) and every HTTP status."""

    def __init__(self) -> None:
        self.http = _HttpCounter()
        self.stored: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.syncs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def after(self, response: Response) -> Response:
        self.http.count(response)
        station = g.get("sync_station")
        if request.path == "/api/v1/sync" and station and response.status_code == 200:
            body = response.get_json(silent=True) or {}
            with self._lock:
                self.syncs[station] += 1
                self.stored[station] += int(body.get("stored") or 0)
                self.refused[station] += int(body.get("refused") or 0)
        return response

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            rows = [
                ("fabrique_central_syncs", "Sync requests answered", self.syncs),
                ("fabrique_central_ingested_events", "Events stored from stations", self.stored),
                ("fabrique_central_refused_events", "Events refused (out of scope)", self.refused),
            ]
            for name, doc, counts in rows:
                m = CounterMetricFamily(name, doc, labels=["station"])
                for station, n in sorted(counts.items()):
                    m.add_metric([station], n)
                yield m
        yield self.http.family("central")


def init_central_metrics(app: Flask, allow: list[str]) -> CentralCollector:
    registry = CollectorRegistry(auto_describe=True)
    collector = CentralCollector()
    registry.register(collector)
    app.after_request(collector.after)
    _serve(app, registry, networks(allow))
    app.extensions["metrics"] = collector
    return collector
