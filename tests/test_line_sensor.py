"""The line-based power sensor: parser, bounded line buffer, driver and emulator on a pty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.line_sensor import LineBuffer, LineSensor, format_line, parse_line
from mocks.serial_devices import LineSensorEmulator, collect
from station.ports import PowerReading

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
optional = st.none() | finite


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("W:123.4", PowerReading(watts=123.4)),
        ("w=5", PowerReading(watts=5.0)),
        ("V:231.0 A:0.52, W:120.1;PF:0.98", PowerReading(120.1, 231.0, 0.52, power_factor=0.98)),
        ("WH:12 W:3", PowerReading(watts=3.0, energy_wh=12.0)),
        ("", None),
        ("V:230", None),  # no watts
        ("W:-3", None),
        ("W:12 W:13", None),  # ambiguous
        ("W:12 X:1", None),  # unknown key
        ("23.4", None),  # the tail of a line cut by a reset
        ("W:1e400", None),  # not finite
    ],
)
def test_parse_line(line: str, expected: PowerReading | None) -> None:
    assert parse_line(line) == expected


@given(st.binary(max_size=80))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    reading = parse_line(data)
    assert reading is None or reading.watts >= 0


@given(finite, optional, optional, optional, optional, optional)
def test_lines_round_trip(
    watts: float,
    volts: float | None,
    amps: float | None,
    energy: float | None,
    hertz: float | None,
    pf: float | None,
) -> None:
    reading = PowerReading(watts, volts, amps, energy, hertz, pf)
    assert parse_line(format_line(reading)) == reading


@given(st.lists(st.binary(max_size=20), max_size=10), st.integers(1, 7))
def test_line_buffer_is_bounded_and_never_crashes(chunks: list[bytes], size: int) -> None:
    buffer = LineBuffer(max_line=16, drop_first=False)
    for chunk in chunks:
        for i in range(0, len(chunk), size):
            for line in buffer.feed(chunk[i : i + size]):
                assert b"\n" not in line and b"\r" not in line and 0 < len(line) <= 16
        assert len(buffer._buf) <= 16


def test_line_buffer_drops_the_first_fragment_after_a_reset() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"4.5\r\nW:1.0\r\nW:2") == [b"W:1.0"]
    assert buffer.feed(b".0\n") == [b"W:2.0"]
    buffer.reset()
    assert buffer.feed(b"W:3.0\nW:4.0\n") == [b"W:4.0"]
    assert buffer.dropped_fragments == 2


def test_an_endless_line_is_dropped_whole() -> None:
    buffer = LineBuffer(max_line=8, drop_first=False)
    assert buffer.feed(b"W:" + b"9" * 20) == []
    assert buffer.feed(b"99\nW:1\n") == [b"W:1"]
    assert buffer.overflows == 1


# -- driver and emulator -----------------------------------------------------------------------


def test_driver_reads_lines_and_counts_junk() -> None:
    with LineSensorEmulator(watts=0.0, volts=230.0) as device, LineSensor(device.port) as sensor:
        assert sensor.poll_once() == []  # opens; the first line after it is dropped
        device.write(b"t:12\r\n")  # the tail of a boot banner
        device.set_load(850.0)
        device.emit()
        device.garbage = True
        device.emit()
        readings = collect(sensor, 2)
        assert readings == [PowerReading(850.0, 230.0)] * 2
        assert sensor.health()["errors"] == {"unreadable_lines": 1}


def test_unplug_and_replug() -> None:
    with LineSensorEmulator(watts=10.0) as device, LineSensor(device.port) as sensor:
        sensor.poll_once()
        device.write(b"\n")
        device.emit()
        assert collect(sensor, 1) == [PowerReading(10.0)]
        device.unplug()
        assert collect(sensor, 1, timeout=0.5) == []
        assert not sensor.link.connected
        device.replug()
        sensor.link._next_attempt = 0.0  # skip the back-off (see test_serial_link)
        sensor.poll_once()
        device.write(b"0.0\n")  # half a line: dropped
        device.set_load(20.0)
        device.emit()
        assert collect(sensor, 1) == [PowerReading(20.0)]
        assert sensor.health()["reconnects"] == 1
