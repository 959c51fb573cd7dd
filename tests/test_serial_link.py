"""The robust serial link and the sensor base: back-off, health, no exception ever escapes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hardware.line_sensor import LineSensor
from hardware.pzem import Pzem004t
from hardware.sds011 import Sds011
from hardware.serial_link import SerialLink, SerialSensor
from mocks.serial_devices import Sds011Emulator, build_emulated_sensors, collect
from station.ports import AirReading, PowerReading, Sensor


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakePort:
    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks
        self.closed = False

    @property
    def in_waiting(self) -> int:
        return 0

    def read(self, n: int) -> bytes:
        item = self.chunks.pop(0) if self.chunks else b""
        if isinstance(item, BaseException):
            raise item
        return item

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FlakyOpener:
    """Fails ``failures`` times, then hands out ports."""

    def __init__(self, failures: int, chunks: list[Any] | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.ports: list[FakePort] = []
        self.chunks = chunks or []

    def __call__(self, url: str) -> FakePort:
        self.calls += 1
        if self.calls <= self.failures:
            raise FileNotFoundError(2, "No such file or directory", url)
        port = FakePort(self.chunks)
        self.ports.append(port)
        return port


def test_back_off_doubles_up_to_a_cap_then_resets() -> None:
    clock = FakeClock()
    opener = FlakyOpener(failures=6)
    link = SerialLink("/dev/x", clock=clock, opener=opener, backoff_initial_s=0.5, backoff_max_s=4)
    waits = []
    while link.ensure_open() is None:
        waits.append(link.retry_in())
        assert link.ensure_open() is None  # not due: no attempt
        clock.t += link.retry_in()
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert opener.calls == 7 and link.open_failures == 6 and link.reconnects == 0
    link.lost(OSError("gone"))
    assert link.retry_in() == 0.5  # a good open resets the back-off
    clock.t += 0.5
    assert link.ensure_open() is not None and link.reconnects == 1
    link.close()
    link.close()
    assert all(p.closed for p in opener.ports)


class Echo(SerialSensor):
    """A sensor reporting each chunk it reads, to test the base class alone."""

    kind = "echo"

    def _poll(self, port: Any) -> list[object]:
        data = port.read(1)
        if data == b"bug":
            raise KeyError("a driver bug")
        return [data] if data else []


def test_no_error_escapes_poll_once_and_callbacks_cannot_stop_the_sensor() -> None:
    clock = FakeClock()
    opener = FlakyOpener(0, [b"a", b"bug", OSError("EIO"), b"b"])
    sensor = Echo(SerialLink("x", clock=clock, opener=opener), clock=clock)

    def angry_controller(reading: object) -> None:
        raise RuntimeError("controller bug")

    sensor._on_reading = angry_controller
    assert sensor.poll_once() == [b"a"]
    assert sensor.poll_once() == []  # the driver bug
    assert sensor.poll_once() == []  # the port is lost
    assert not sensor.link.connected
    clock.t += 0.5
    assert sensor.poll_once() == [b"b"]
    health = sensor.health()
    assert health["errors"] == {"callback": 2, "internal": 1, "io": 1}
    assert health["reconnects"] == 1 and health["ok"] is True
    sensor.close()
    sensor.close()
    assert sensor.poll_once() == []


def test_health_before_any_reading() -> None:
    sensor = Echo(SerialLink("x", opener=FlakyOpener(1)))
    assert sensor.poll_once() == []
    health = sensor.health()
    assert health["ok"] is False and health["connected"] is False
    assert health["last_reading_age_s"] is None and "open:" in str(health["last_error"])
    sensor.close()


@pytest.mark.parametrize("cls", [Pzem004t, Sds011, LineSensor])
def test_drivers_implement_the_sensor_port(cls: type) -> None:
    sensor = cls("/dev/does-not-exist")
    try:
        assert isinstance(sensor, Sensor)
        assert sensor.poll_once() == []  # a missing port is not an exception
        assert sensor.health()["connected"] is False
    finally:
        sensor.close()


def test_streaming_sensor_thread_survives_an_unplug() -> None:
    """Real time here: the emulator streams and the sensor thread reconnects by itself."""
    got: list[object] = []
    before, after = threading.Event(), threading.Event()

    def on_reading(reading: object) -> None:
        got.append(reading)
        (after if reading == AirReading(2.0, 3.0) else before).set()

    with Sds011Emulator(pm25=1.0, pm10=1.0) as device:
        link = SerialLink(device.port, timeout=0.05, backoff_initial_s=0.01)
        sensor = Sds011(device.port, link=link)
        device.start_streaming(0.02)
        sensor.start(on_reading)
        try:
            assert before.wait(5.0)
            device.unplug()
            device.set_pm(2.0, 3.0)
            device.replug()
            assert after.wait(5.0)
        finally:
            sensor.close()
    assert sensor.health()["reconnects"] >= 1


def test_build_emulated_sensors_for_the_mock_backend() -> None:
    sensors = build_emulated_sensors(power="pzem", air=True)
    try:
        sensors.set_load(850)
        sensors.set_pm(80)
        assert sensors.power_meter is not None and sensors.air_sensor is not None
        (power,) = sensors.power_meter.poll_once()
        assert isinstance(power, PowerReading) and power.watts == 850
        readings = collect(sensors.air_sensor, 1)  # the SDS011 streams once a second
        assert readings and readings[-1] == AirReading(80, 8.0)
    finally:
        sensors.close()
        sensors.close()
    line = build_emulated_sensors(power="line", air=False)
    line.close()
    with pytest.raises(ValueError):
        build_emulated_sensors(power="nope")
