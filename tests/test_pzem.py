"""PZEM-004T: register decoding, the emulator's Modbus checked by independent code, the driver."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.pzem import Pzem004t, decode_registers
from hardware.serial_link import SerialLink
from mocks.serial_devices import PzemEmulator, crc16_modbus, pzem_registers, with_crc
from station.ports import PowerReading


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@given(st.lists(st.integers(0, 0xFFFF), min_size=10, max_size=10))
def test_any_ten_registers_decode(registers: list[int]) -> None:
    reading = decode_registers(registers)
    assert reading.watts >= 0 and reading.energy_wh is not None


@given(st.lists(st.integers(-5, 0x1FFFF), max_size=12))
def test_wrong_register_sets_raise_value_error(registers: list[int]) -> None:
    if len(registers) == 10 and all(0 <= r <= 0xFFFF for r in registers):
        return
    with pytest.raises(ValueError):
        decode_registers(registers)


@given(
    volts=st.integers(0, 3000).map(lambda n: n / 10),
    amps=st.integers(0, 100_000).map(lambda n: n / 1000),
    watts=st.integers(0, 260_000).map(lambda n: n / 10),
    energy=st.integers(0, 0xFFFFFFFF),
    hertz=st.integers(450, 650).map(lambda n: n / 10),
    pf=st.integers(0, 100).map(lambda n: n / 100),
)
def test_emulator_registers_round_trip_through_the_decoder(
    volts: float, amps: float, watts: float, energy: int, hertz: float, pf: float
) -> None:
    registers = pzem_registers(volts, amps, watts, energy, hertz, pf)
    assert decode_registers(registers) == PowerReading(
        watts=watts, volts=volts, amps=amps, energy_wh=float(energy), hertz=hertz, power_factor=pf
    )


@settings(deadline=None)  # the first example imports two packages: slow on a busy machine
@given(st.binary(max_size=64))
def test_crc_agrees_with_independent_implementations(data: bytes) -> None:
    minimalmodbus = pytest.importorskip("minimalmodbus")
    ours = crc16_modbus(data).to_bytes(2, "little")
    assert ours == minimalmodbus._calculate_crc(data)
    crc = pytest.importorskip("crc")
    assert crc16_modbus(data) == crc.Calculator(crc.Crc16.MODBUS).checksum(data)


def test_crc_of_a_known_request() -> None:
    # Read 10 input registers from 0 at the general address, as the PZEM manual spells it.
    assert with_crc(bytes.fromhex("f8040000000a")) == bytes.fromhex("f8040000000a6464")


# -- the emulator, read by plain minimalmodbus (independent of our driver) ---------------------


def test_minimalmodbus_reads_the_emulator_directly() -> None:
    import minimalmodbus
    import serial

    with PzemEmulator(address=1) as pzem:
        pzem.set_load(1234.5)
        port = serial.Serial(pzem.port, 9600, timeout=0.5)
        try:
            instrument = minimalmodbus.Instrument(port, 1)
            registers = instrument.read_registers(0, 10, functioncode=4)
            assert decode_registers(registers).watts == 1234.5
            assert (
                instrument.read_long(
                    3, functioncode=4, byteorder=minimalmodbus.BYTEORDER_LITTLE_SWAP
                )
                == 12345
            )
            with pytest.raises(minimalmodbus.IllegalRequestError):
                instrument.read_registers(8, 5, functioncode=4)
        finally:
            port.close()


def _instrument(pzem: PzemEmulator, address: int = 1) -> Any:
    """A plain minimalmodbus instrument on the emulator's port (closed by the caller)."""
    import minimalmodbus
    import serial

    port = serial.Serial(pzem.port, 9600, timeout=0.5)
    return minimalmodbus.Instrument(port, address)


def test_alarm_register_reads_ffff_above_the_power_threshold() -> None:
    """PZEM-004T v3.0 manual, input register 0x0009 (power alarm): 0xFFFF when the active
    power is above the alarm threshold (holding register 0x0001, in W), 0x0000 otherwise."""
    with PzemEmulator(address=1) as pzem:
        instrument = _instrument(pzem)
        try:
            pzem.set_load(100.0)
            assert instrument.read_register(9, functioncode=4) == 0
            pzem.set_load(23_500.0)
            assert instrument.read_register(9, functioncode=4) == 0xFFFF
        finally:
            instrument.serial.close()


def test_write_single_register_sets_threshold_and_address() -> None:
    """PZEM-004T v3.0 manual: function 0x06 writes one holding register (0x0001 power alarm
    threshold, 0x0002 slave address) and the meter echoes the request."""
    import minimalmodbus

    with PzemEmulator(address=1) as pzem:
        instrument = _instrument(pzem)
        try:
            instrument.write_register(1, 1000, functioncode=6)  # checks the echo
            assert instrument.read_register(1, functioncode=3) == 1000
            pzem.set_load(1500.0)
            assert instrument.read_register(9, functioncode=4) == 0xFFFF
            with pytest.raises(minimalmodbus.IllegalRequestError):
                instrument.write_register(7, 1, functioncode=6)
            instrument.write_register(2, 5, functioncode=6)
            assert pzem.address == 5
        finally:
            instrument.serial.close()


# -- the driver --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pzem(clock: FakeClock) -> PzemEmulator:
    with PzemEmulator(clock=clock, energy_wh=500.0) as emulator:
        yield emulator


def test_driver_reads_all_values(pzem: PzemEmulator, clock: FakeClock) -> None:
    pzem.set_load(850.0)
    with Pzem004t(pzem.port, clock=clock) as meter:
        (reading,) = meter.poll_once()
    assert reading.watts == 850.0 and reading.volts == 230.0 and reading.hertz == 50.0
    assert reading.amps == pytest.approx(850 / 230, abs=0.001)
    assert reading.energy_wh == 500.0 and reading.power_factor == 1.0


def test_energy_register_integrates_the_load_over_injected_time(
    pzem: PzemEmulator, clock: FakeClock
) -> None:
    with Pzem004t(pzem.port, address=1, clock=clock) as meter:
        pzem.set_load(1000.0)
        clock.t += 1800
        pzem.set_load(200.0)
        clock.t += 3600
        (reading,) = meter.poll_once()
    assert reading.energy_wh == 500 + 500 + 200
    assert pzem.energy_wh == pytest.approx(1200.0)


@pytest.mark.parametrize(
    ("fault", "counter"),
    [("silent", "no_response"), ("bad_crc", "crc"), ("wrong_address", "wrong_address")],
)
def test_faults_are_counted_never_raised(pzem: PzemEmulator, fault: str, counter: str) -> None:
    with Pzem004t(pzem.port, timeout=0.1) as meter:
        setattr(pzem, fault, True)
        assert meter.poll_once() == []
        assert meter.health()["errors"] == {counter: 1}
        assert meter.link.connected  # a confused meter is not an unplugged one
        setattr(pzem, fault, False)
        assert len(meter.poll_once()) == 1


def test_garbage_before_the_answer_is_a_crc_error(pzem: PzemEmulator) -> None:
    with Pzem004t(pzem.port, timeout=0.1) as meter:
        pzem.garbage = True
        assert meter.poll_once() == []
        assert sum(meter.health()["errors"].values()) == 1
        pzem.garbage = False
        assert len(meter.poll_once()) == 1


def test_requests_for_another_address_are_ignored(pzem: PzemEmulator) -> None:
    with Pzem004t(pzem.port, address=7, timeout=0.1) as meter:
        assert meter.poll_once() == []
        assert meter.health()["errors"] == {"no_response": 1}
    assert pzem.requests == 0


def test_unplug_and_replug_with_back_off(pzem: PzemEmulator, clock: FakeClock) -> None:
    """The meter is pulled out for a minute while the machine runs; nothing is lost."""
    link = SerialLink(pzem.port, clock=clock, timeout=0.2, backoff_initial_s=1.0)
    with Pzem004t(pzem.port, clock=clock, link=link) as meter:
        pzem.set_load(600.0)
        (first,) = meter.poll_once()
        pzem.unplug()
        clock.t += 1
        assert meter.poll_once() == []  # write fails: the port is lost
        health = meter.health()
        assert health["connected"] is False and health["errors"] == {"io": 1}
        assert link.retry_in() == 1.0
        assert meter.poll_once() == []  # not due yet: no attempt
        assert link.open_failures == 0
        clock.t += 1
        assert meter.poll_once() == []  # due, but the path is gone
        assert link.open_failures == 1 and link.retry_in() == 2.0
        clock.t += 58
        pzem.replug()
        (after,) = meter.poll_once()
        assert meter.health()["reconnects"] == 1 and meter.health()["ok"]
    assert after.energy_wh - first.energy_wh == 10.0  # 600 W for 60 s, counted by the meter


def test_sensor_thread_reports_and_close_is_idempotent(pzem: PzemEmulator) -> None:
    import threading

    pzem.set_load(42.0)
    got: list[object] = []
    enough = threading.Event()

    def on_reading(reading: object) -> None:
        got.append(reading)
        if len(got) >= 3:
            enough.set()

    meter = Pzem004t(pzem.port, poll_s=0.01)
    meter.start(on_reading)
    try:
        assert enough.wait(timeout=5.0)
    finally:
        meter.close()
        meter.close()
    assert all(isinstance(r, PowerReading) and r.watts == 42.0 for r in got)
