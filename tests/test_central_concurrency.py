"""Several central processes, one database: a batch pushed through two of them at once is
stored exactly once on ``(station_id, seq)`` (both backends; threads, each with its own store)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from central.ingest import parse_event
from central.store import CentralStore
from station.model import Level
from tests.conftest import another_process

AT = "2026-03-02T10:00:00.000Z"


def batch(station: str, first: int, last: int) -> list[Any]:
    """Sessions that start and end (projected) between heartbeats."""
    out = []
    for seq in range(first, last + 1):
        data: dict[str, Any] = {}
        if seq % 3 == 1:
            type_, data = "session_started", {"session_id": f"s{seq}", "member_id": "lea"}
        elif seq % 3 == 2:
            type_ = "session_ended"
            data = {"session_id": f"s{seq - 1}", "member_id": "lea", "duration_s": 60.0,
                    "end_reason": "badge_out"}  # fmt: skip
        else:
            type_ = "heartbeat"
        raw = {"id": f"{station}-{seq}", "seq": seq, "type": type_, "at": AT,
               "clock_synced": True, "boot_id": "b1", "mono": float(seq), "data": data}  # fmt: skip
        out.append(parse_event(raw, 0, station))
    return out


@pytest.fixture
def stores(central_store: CentralStore) -> Iterator[list[CentralStore]]:
    central_store.add_station("laser-1", kind="laser")
    others = [another_process(central_store) for _ in range(3)]
    yield [central_store, *others]
    for s in others:
        s.close()


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results.append(call())
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    return results


def test_the_same_batch_pushed_through_four_processes_is_stored_once(
    stores: list[CentralStore],
) -> None:
    events = batch("laser-1", 1, 600)
    results = at_once([lambda s=s: s.ingest("laser-1", events) for s in stores])
    assert sum(r["stored"] for r in results) == 600
    assert sorted(r["duplicates"] for r in results) == [0, 600, 600, 600]
    assert {r["high_water"] for r in results} == {600}
    assert stores[0].count_events("laser-1") == 600
    assert [e["seq"] for e in stores[1].events("laser-1")] == list(range(1, 601))
    assert stores[2].station("laser-1")["held"] == 600


def test_overlapping_batches_at_once_leave_no_gap_and_no_double(
    stores: list[CentralStore],
) -> None:
    # The same station's retry, with more events, racing its first push: no gap either way.
    a, b = batch("laser-1", 1, 400), batch("laser-1", 1, 600)
    at_once([lambda: stores[0].ingest("laser-1", a), lambda: stores[1].ingest("laser-1", b)])
    assert stores[2].count_events("laser-1") == 600
    assert stores[3].high_water("laser-1") == 600
    from central.store import Filters

    rows = stores[0].hours_by_period(Filters())
    assert sum(r["sessions"] for r in rows) == 200  # each session once, not twice
    assert sum(r["hours"] for r in rows) == pytest.approx(200 / 60, abs=0.01)


def grant(station: str, seq: int, member: str, kind: str, level: str) -> list[Any]:
    """A grant at the machine as a station sends it: in the session Inès supervises (scope)."""
    session = {"session_id": f"{station}-s{seq}", "member_id": member, "kind": kind,
               "supervisor_id": "ines"}  # fmt: skip
    data = {"member_id": member, "kind": kind, "level": level, "granted_by": "ines",
            "session_id": session["session_id"]}  # fmt: skip
    return [
        parse_event(
            {
                "id": f"{station}-{s}",
                "seq": s,
                "type": t,
                "at": AT,
                "clock_synced": True,
                "boot_id": "b1",
                "mono": float(s),
                "data": d,
            },
            0,
            station,
        )
        for s, t, d in (
            (2 * seq - 1, "session_started", session),
            (2 * seq, "qualification_granted", data),
        )
    ]


def test_grants_at_two_stations_at_once_each_bump_the_roster_once(
    stores: list[CentralStore],
) -> None:
    """Pushes of two stations run at once on PostgreSQL: the roster's version is still bumped
    once per applied grant, never twice to the same number (the stations would miss a change)."""
    from station.roster import parse_roster_csv
    from tests.conftest import sample_roster_text

    a, b = stores[0], stores[1]
    a.import_roster(parse_roster_csv(sample_roster_text()))
    a.add_station("printer-1", kind="printer3d")
    trainees = ("lea", "noah", "amina", "sofiane")
    for member in trainees:  # a machine raises supervised to autonomous (central/scope.py)
        for kind in ("laser", "printer3d"):
            a.set_qualification(member, kind, Level.SUPERVISED, by="ines")
    before = a.roster_version()
    laser = [(m, "autonomous") for m in trainees]
    printer = [(m, "autonomous") for m in reversed(trainees)]
    for seq, ((m1, l1), (m2, l2)) in enumerate(zip(laser, printer, strict=True), 1):
        on_laser = grant("laser-1", seq, m1, "laser", l1)
        on_printer = grant("printer-1", seq, m2, "printer3d", l2)
        results = at_once(
            [
                lambda e=on_laser: a.ingest("laser-1", e),  # type: ignore[misc]
                lambda e=on_printer: b.ingest("printer-1", e),  # type: ignore[misc]
            ]
        )
        assert [r["refused"] for r in results] == [0, 0]
    assert a.roster_version() == before + 8
    versions = [q["version"] for q in a.roster_rows()["qualifications"] if q["version"] > before]
    assert sorted(versions) == list(range(before + 1, before + 9))
    changes = b.roster_changes(before)
    assert changes is not None and len(changes["qualifications"]) == 8


def test_one_badge_at_two_stations_at_once_is_still_an_alert(stores: list[CentralStore]) -> None:
    """Two stations push a tap of the same badge at the same moment, through two processes."""
    a, b = stores[0], stores[1]
    a.add_station("printer-1", kind="printer3d")

    def tap(station: str) -> Any:
        raw = {"id": f"{station}-1", "seq": 1, "type": "access_denied", "at": AT,
               "clock_synced": True, "boot_id": "b1", "mono": 1.0,
               "data": {"uid": "04C0C1C2", "reason": "unknown_badge"}}  # fmt: skip
        return parse_event(raw, 0, station)

    at_once(
        [
            lambda: a.ingest("laser-1", [tap("laser-1")]),
            lambda: b.ingest("printer-1", [tap("printer-1")]),
        ]
    )
    kinds = [alert["kind"] for alert in a.recent_alerts()]
    assert kinds.count("badge_seen_at_two_stations") == 1, kinds
