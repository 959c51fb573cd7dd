"""SDS011: frame codec and parser (cross-checked against sds011lib), driver on a pty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.sds011 import FRAME_LEN, FrameError, FrameParser, Sds011, encode_frame, parse_frame
from mocks.serial_devices import Sds011Emulator, collect
from station.ports import AirReading

tenths = st.integers(min_value=0, max_value=0xFFFF).map(lambda n: n / 10)
device_ids = st.integers(min_value=0, max_value=0xFFFF)
# Garbage without the header byte cannot hide a frame of its own.
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\xaa", b"\x00"))


@given(tenths, tenths, device_ids)
def test_valid_frames_round_trip(pm25: float, pm10: float, device_id: int) -> None:
    frame = encode_frame(pm25, pm10, device_id)
    assert len(frame) == FRAME_LEN
    assert parse_frame(frame) == AirReading(pm25=pm25, pm10=pm10)


@given(tenths, tenths, device_ids)
def test_our_frames_parse_with_sds011lib(pm25: float, pm10: float, device_id: int) -> None:
    """An independent implementation from PyPI reads our frames the same way."""
    sds011lib = pytest.importorskip("sds011lib")
    theirs = sds011lib._parse_query_response(encode_frame(pm25, pm10, device_id))
    assert (theirs.pm25, theirs.pm10) == (pm25, pm10)
    assert theirs.device_id == device_id.to_bytes(2, "little")


@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    parser = FrameParser()
    for reading in parser.feed(data):
        assert isinstance(reading, AirReading)
    assert parser.buffered < FRAME_LEN


@given(st.binary(min_size=FRAME_LEN, max_size=FRAME_LEN))
def test_parse_frame_accepts_or_says_why(data: bytes) -> None:
    try:
        reading = parse_frame(data)
    except FrameError as exc:
        assert str(exc)
    else:
        assert encode_frame(reading.pm25, reading.pm10 or 0, data[6] | data[7] << 8) == data


@given(st.lists(st.tuples(garbage, tenths, tenths), max_size=6), garbage, st.integers(1, 11))
def test_frames_are_found_in_garbage_whatever_the_chunking(
    items: list[tuple[bytes, float, float]], trailing: bytes, chunk: int
) -> None:
    stream = b"".join(junk + encode_frame(a, b) for junk, a, b in items) + trailing
    parser = FrameParser()
    found: list[AirReading] = []
    for i in range(0, len(stream), chunk):
        found += parser.feed(stream[i : i + chunk])
    assert found == [AirReading(a, b) for _, a, b in items]


def test_a_bad_checksum_is_counted_and_the_next_frame_still_read() -> None:
    bad = bytearray(encode_frame(12.3, 45.6))
    bad[8] ^= 1
    parser = FrameParser()
    assert parser.feed(bytes(bad) + encode_frame(1.0, 2.0)) == [AirReading(1.0, 2.0)]
    assert parser.checksum_errors == 1


def test_a_header_inside_garbage_does_not_swallow_the_frame_after_it() -> None:
    parser = FrameParser()
    assert parser.feed(b"\xaa\xc0\x01" + encode_frame(3.0, 4.0)) == [AirReading(3.0, 4.0)]


def test_values_are_clamped_to_what_the_frame_can_carry() -> None:
    assert parse_frame(encode_frame(-5, 99999)) == AirReading(0.0, 6553.5)


# -- driver and emulator on a pty -------------------------------------------------------------


@pytest.fixture
def sds() -> Sds011Emulator:
    with Sds011Emulator(pm25=12.3, pm10=40.0) as emulator:
        yield emulator


def test_driver_reads_frames_from_the_emulator(sds: Sds011Emulator) -> None:
    with Sds011(sds.port) as sensor:
        assert sensor.poll_once() == []  # opens the port
        for _ in range(3):
            sds.emit()
        assert collect(sensor, 3) == [AirReading(12.3, 40.0)] * 3
        health = sensor.health()
        assert health["ok"] and health["connected"] and health["readings"] == 3


def test_garbage_and_bad_checksums_on_the_line(sds: Sds011Emulator) -> None:
    with Sds011(sds.port) as sensor:
        sensor.poll_once()
        sds.garbage = True
        sds.bad_checksum = True
        sds.emit()
        sds.bad_checksum = False
        for _ in range(5):
            sds.emit()
        assert collect(sensor, 5) == [AirReading(12.3, 40.0)] * 5
        errors = sensor.health()["errors"]
        assert errors["checksum"] == 1 and errors["garbage_bytes"] > 0


def test_noise_moves_values_around_the_setting(sds: Sds011Emulator) -> None:
    sds.noise = 2.0
    sds.set_pm(50.0, 80.0)
    with Sds011(sds.port) as sensor:
        sensor.poll_once()
        for _ in range(20):
            sds.emit()
        values = [r.pm25 for r in collect(sensor, 20)]
    assert len(values) == 20 and len(set(values)) > 1
    assert 45 < sum(values) / len(values) < 55


def test_unplug_and_replug_resumes_readings(sds: Sds011Emulator) -> None:
    with Sds011(sds.port) as sensor:
        sensor.poll_once()
        sds.emit()
        assert len(collect(sensor, 1)) == 1
        sds.unplug()
        assert sensor.poll_once() == []
        assert not sensor.health()["connected"]
        assert sensor.health()["errors"]["io"] == 1
        sds.replug()
        sensor.link._next_attempt = 0.0  # skip the back-off wait (tested in test_serial_link)
        assert sensor.poll_once() == [] and sensor.link.connected
        sds.write(encode_frame(99.0, 99.0)[4:])  # a fragment: the tail of a frame
        sds.set_pm(7.0, 9.0)
        sds.emit()
        sds.emit()
        assert collect(sensor, 2) == [AirReading(7.0, 9.0)] * 2
        assert sensor.health()["reconnects"] == 1


def test_stale_readings_become_unknown(sds: Sds011Emulator) -> None:
    now = [100.0]
    with Sds011(sds.port, clock=lambda: now[0], stale_after_s=5.0) as sensor:
        sensor.poll_once()
        sds.emit()
        collect(sensor, 1)
        assert sensor.latest() == AirReading(12.3, 40.0)
        now[0] += 5.5
        assert sensor.latest() is None
        health = sensor.health()
        assert not health["ok"] and health["last_reading_age_s"] == 5.5
