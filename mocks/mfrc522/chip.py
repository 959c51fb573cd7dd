"""The MFRC522 itself: its registers, FIFO, interrupts, timer, commands and reset line, as
seen from the SPI bus (NXP datasheet rev. 3.9); the RF field holds at most one :class:`VirtualCard`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from mocks.mfrc522.card import VirtualCard
from mocks.mfrc522.frames import crc_a, with_crc

# --- registers (datasheet names) -------------------------------------------------------------
COMMAND_REG = 0x01
COM_IEN_REG = 0x02
DIV_IEN_REG = 0x03
COM_IRQ_REG = 0x04
DIV_IRQ_REG = 0x05
ERROR_REG = 0x06
STATUS1_REG = 0x07
STATUS2_REG = 0x08
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
WATER_LEVEL_REG = 0x0B
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
COLL_REG = 0x0E
MODE_REG = 0x11
TX_MODE_REG = 0x12
RX_MODE_REG = 0x13
TX_CONTROL_REG = 0x14
TX_ASK_REG = 0x15
CRC_RESULT_REG_H = 0x21
CRC_RESULT_REG_L = 0x22
T_MODE_REG = 0x2A
T_PRESCALER_REG = 0x2B
T_RELOAD_REG_H = 0x2C
T_RELOAD_REG_L = 0x2D
T_COUNTER_VAL_REG_H = 0x2E
T_COUNTER_VAL_REG_L = 0x2F
VERSION_REG = 0x37

# --- commands (CommandReg bits 3:0) ------------------------------------------------------------
CMD_IDLE = 0x00
CMD_MEM = 0x01
CMD_GENERATE_RANDOM_ID = 0x02
CMD_CALC_CRC = 0x03
CMD_TRANSMIT = 0x04
CMD_NO_CMD_CHANGE = 0x07
CMD_RECEIVE = 0x08
CMD_TRANSCEIVE = 0x0C
CMD_MF_AUTHENT = 0x0E
CMD_SOFT_RESET = 0x0F

# --- interrupt and error bits -------------------------------------------------------------------
TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
HI_ALERT_IRQ = 0x08
LO_ALERT_IRQ = 0x04
ERR_IRQ = 0x02
TIMER_IRQ = 0x01
CRC_IRQ = 0x04  # DivIrqReg

ERR_WR = 0x80
ERR_TEMP = 0x40
ERR_BUFFER_OVFL = 0x10
ERR_COLL = 0x08
ERR_CRC = 0x04
ERR_PARITY = 0x02
ERR_PROTOCOL = 0x01

STATUS2_CRYPTO1_ON = 0x08

FIFO_SIZE = 64
CARRIER_HZ = 13.56e6
ANSWER_DELAY_S = 0.0005
"""With a clock: how long after StartSend a card's answer is complete (REQA + ATQA take ~0.3 ms)."""

RESET_VALUES: dict[int, int] = {
    COMMAND_REG: 0x20,
    COM_IEN_REG: 0x80,
    COM_IRQ_REG: 0x14,
    WATER_LEVEL_REG: 0x08,
    CONTROL_REG: 0x10,
    COLL_REG: 0xA0,
    MODE_REG: 0x3F,
    TX_CONTROL_REG: 0x80,
    0x16: 0x10,  # TxSelReg
    0x17: 0x84,  # RxSelReg
    0x18: 0x84,  # RxThresholdReg
    0x19: 0x4D,  # DemodReg
    0x1C: 0x62,  # MfTxReg
    0x1F: 0xEB,  # SerialSpeedReg
    CRC_RESULT_REG_H: 0xFF,
    CRC_RESULT_REG_L: 0xFF,
    0x24: 0x26,  # ModWidthReg
    0x26: 0x48,  # RFCfgReg
    0x27: 0x88,  # GsNReg
    0x28: 0x20,  # CWGsPReg
    0x29: 0x20,  # ModGsPReg
}

CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)


class ResetLine:
    """The chip's NRSTPD pin, shaped like a gpiozero ``DigitalOutputDevice`` (on = running)."""

    def __init__(self, chip: Mfrc522Chip) -> None:
        self._chip = chip

    @property
    def value(self) -> int:
        return int(self._chip.powered)

    def on(self) -> None:
        self._chip.set_reset_pin(True)

    def off(self) -> None:
        self._chip.set_reset_pin(False)

    def close(self) -> None:
        pass


class Mfrc522Chip:
    """One MFRC522 and the RF field in front of it (at most one card at a time).

    Thread-safe: a lock serialises SPI transfers and ``place``/``remove``, as the real bus would.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None, version: int = 0x92) -> None:
        self._clock = clock
        self._version = version
        self._lock = threading.RLock()
        self.card: VirtualCard | None = None
        self.powered = True
        self.spi_transfers = 0
        self.spi_bytes = 0
        self.frames_sent = 0
        self.on_irq_pin: Callable[[bool], None] | None = None
        """Called with the IRQ pin's new level (True = high) whenever it changes."""
        self.reset_line = ResetLine(self)
        self._irq_level = True
        self._hard_reset()

    # -- test-facing controls --
    def place(self, card: VirtualCard) -> None:
        """Put ``card`` in the field (replacing any other); it powers up in IDLE."""
        with self._lock:
            card.power_off()
            self.card = card

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            if self.card is not None:
                self.card.power_off()
            self.card = None

    @property
    def field_on(self) -> bool:
        return self.powered and bool(self._regs[TX_CONTROL_REG] & 0x03)

    @property
    def irq_pin(self) -> bool:
        """The IRQ pin's level (True = high). Active low by default (ComIEnReg.IRqInv = 1)."""
        return self._irq_level

    def attach_irq_pin(self, pin: Any) -> None:
        """Drive a gpiozero ``MockPin`` (``drive_high``/``drive_low``) from the IRQ output."""

        def follow(level: bool) -> None:
            if level:
                pin.drive_high()
            else:
                pin.drive_low()

        self.on_irq_pin = follow
        follow(self._irq_level)

    def set_reset_pin(self, high: bool) -> None:
        """NRSTPD: low powers the chip down (field off); a rising edge is a hard reset."""
        with self._lock:
            if high and not self.powered:
                self.powered = True
                self._hard_reset()
            elif not high and self.powered:
                self.powered = False
                self._pending.clear()
                self._field_changed()

    def tick(self) -> None:
        """Let due events (a card's answer, the timer) happen without an SPI transfer."""
        with self._lock:
            self._advance()

    # -- SPI --
    def transfer(self, data: Sequence[int]) -> list[int]:
        """One SPI transaction (chip select held for the whole list)."""
        with self._lock:
            self.spi_transfers += 1
            self.spi_bytes += len(data)
            out = [0] * len(data)
            if not self.powered or not data:
                return out
            self._advance()
            first = data[0]
            if first & 0x01:
                raise ValueError(f"SPI address byte {first:#04x}: bit 0 must be 0")
            if first & 0x80:
                for i, byte in enumerate(data[:-1]):
                    if not byte & 0x80 or byte & 0x01:
                        raise ValueError(f"byte {i} of a read transfer is not a read address")
                    out[i + 1] = self._read(byte >> 1 & 0x3F)
            else:
                reg = first >> 1 & 0x3F
                for value in data[1:]:
                    self._write(reg, value & 0xFF)
            return out

    # -- registers --
    def _hard_reset(self) -> None:
        self._regs = [0] * 64
        for reg, value in RESET_VALUES.items():
            self._regs[reg] = value
        self._fifo: list[int] = []
        self._pending: list[tuple[float, Callable[[], None]]] = []
        self._crypto1 = False
        self._crc: int | None = None
        self._timer_running = False
        self._modem = 0
        if self.card is not None:
            self.card.power_off()
        self._update_irq()

    @property
    def _command(self) -> int:
        return self._regs[COMMAND_REG] & 0x0F

    def _read(self, reg: int) -> int:
        regs = self._regs
        if reg == FIFO_DATA_REG:
            value = self._fifo.pop(0) if self._fifo else 0
            self._fifo_changed()
            return value
        if reg == FIFO_LEVEL_REG:
            return len(self._fifo)
        if reg in (COM_IRQ_REG, DIV_IRQ_REG):
            return regs[reg] & 0x7F
        if reg == STATUS1_REG:
            water = regs[WATER_LEVEL_REG] & 0x3F
            crc_ready = self._crc is not None or self._command != CMD_CALC_CRC
            value = 0x20 if crc_ready else 0  # CRCReady
            # CRCOk: the CRC result is zero (datasheet 9.3.1.8), so not after reset (FFFFh).
            crc_zero = regs[CRC_RESULT_REG_H] == 0 and regs[CRC_RESULT_REG_L] == 0
            value |= 0x40 if crc_ready and crc_zero else 0
            value |= 0x10 if self._irq_active() else 0
            value |= 0x08 if self._timer_running else 0
            value |= 0x02 if FIFO_SIZE - len(self._fifo) <= water else 0
            value |= 0x01 if len(self._fifo) <= water else 0
            return value
        if reg == STATUS2_REG:
            return (regs[reg] & 0xC0) | (STATUS2_CRYPTO1_ON if self._crypto1 else 0) | self._modem
        if reg == CONTROL_REG:
            return regs[reg] & 0x17
        if reg == VERSION_REG:
            return self._version
        if reg in (T_COUNTER_VAL_REG_H, T_COUNTER_VAL_REG_L):
            return 0
        return regs[reg]

    def _write(self, reg: int, value: int) -> None:
        regs = self._regs
        if reg == FIFO_DATA_REG:
            if self._command == CMD_CALC_CRC:
                self._fifo.append(value)
                self._run_crc()
            elif len(self._fifo) >= FIFO_SIZE:
                self._set_error(ERR_BUFFER_OVFL)
            else:
                self._fifo.append(value)
                self._fifo_changed()
        elif reg == FIFO_LEVEL_REG:
            if value & 0x80:
                self._fifo.clear()
                regs[ERROR_REG] &= ~ERR_BUFFER_OVFL
                self._fifo_changed()
        elif reg in (COM_IRQ_REG, DIV_IRQ_REG):
            if value & 0x80:
                regs[reg] |= value & 0x7F
            else:
                regs[reg] &= ~value & 0x7F
            self._update_irq()
        elif reg in (COM_IEN_REG, DIV_IEN_REG):
            regs[reg] = value
            self._update_irq()
        elif reg == STATUS2_REG:
            regs[reg] = value & 0xC0
            if not value & STATUS2_CRYPTO1_ON:
                self._crypto1 = False
        elif reg == COMMAND_REG:
            regs[reg] = (regs[reg] & 0x0F) | (value & 0x30)
            if (value & 0x0F) != CMD_NO_CMD_CHANGE:
                self._start_command(value & 0x0F)
        elif reg == BIT_FRAMING_REG:
            regs[reg] = value & 0x77
            if value & 0x80 and self._command == CMD_TRANSCEIVE:
                self._transmit(expect_answer=True)
        elif reg == CONTROL_REG:
            if value & 0x80:  # TStopNow
                self._timer_running = False
                self._pending = [(t, f) for t, f in self._pending if f != self._timer_expired]
            if value & 0x40:  # TStartNow
                self._start_timer()
        elif reg == TX_CONTROL_REG:
            regs[reg] = value
            self._field_changed()
        elif reg in (ERROR_REG, STATUS1_REG, VERSION_REG):
            pass  # read-only
        else:
            regs[reg] = value

    def _fifo_changed(self) -> None:
        water = self._regs[WATER_LEVEL_REG] & 0x3F
        level = len(self._fifo)
        if level <= water:
            self._regs[COM_IRQ_REG] |= LO_ALERT_IRQ
        if FIFO_SIZE - level <= water:
            self._regs[COM_IRQ_REG] |= HI_ALERT_IRQ
        self._update_irq()

    def _set_irq(self, bits: int) -> None:
        self._regs[COM_IRQ_REG] |= bits
        self._update_irq()

    def _set_error(self, bits: int) -> None:
        self._regs[ERROR_REG] |= bits
        self._set_irq(ERR_IRQ)

    def _irq_active(self) -> bool:
        regs = self._regs
        com = regs[COM_IRQ_REG] & regs[COM_IEN_REG] & 0x7F
        div = regs[DIV_IRQ_REG] & regs[DIV_IEN_REG] & 0x14
        return bool(com or div)

    def _update_irq(self) -> None:
        inverted = bool(self._regs[COM_IEN_REG] & 0x80)
        level = self._irq_active() != inverted
        if level != self._irq_level:
            self._irq_level = level
            if self.on_irq_pin is not None:
                self.on_irq_pin(level)

    def _field_changed(self) -> None:
        if not self.field_on and self.card is not None:
            self.card.power_off()

    # -- time --
    def _now(self) -> float:
        return self._clock() if self._clock is not None else 0.0

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        if self._clock is None:
            action()
        else:
            self._pending.append((self._clock() + delay, action))
            self._pending.sort(key=lambda item: item[0])
            if self.on_irq_pin is not None:
                # Someone listens to the IRQ pin: make the event happen without an SPI transfer.
                timer = threading.Timer(delay, self.tick)
                timer.daemon = True
                timer.start()

    def _advance(self) -> None:
        if self._clock is None:
            return
        now = self._clock()
        while self._pending and self._pending[0][0] <= now:
            _, action = self._pending.pop(0)
            action()

    def timer_period(self) -> float:
        """Seconds from timer start to TimerIRq, from TModeReg, TPrescalerReg and TReloadReg."""
        regs = self._regs
        prescaler = (regs[T_MODE_REG] & 0x0F) << 8 | regs[T_PRESCALER_REG]
        reload = regs[T_RELOAD_REG_H] << 8 | regs[T_RELOAD_REG_L]
        return (2 * prescaler + 1) * (reload + 1) / CARRIER_HZ

    def _start_timer(self) -> None:
        self._timer_running = True
        self._pending = [(t, f) for t, f in self._pending if f != self._timer_expired]
        self._later(self.timer_period(), self._timer_expired)

    def _timer_expired(self) -> None:
        self._timer_running = False
        self._set_irq(TIMER_IRQ)

    # -- commands --
    def _start_command(self, command: int) -> None:
        regs = self._regs
        self._pending.clear()
        self._timer_running = False
        self._crc = None
        self._modem = 0
        regs[COMMAND_REG] = (regs[COMMAND_REG] & 0x30) | CMD_IDLE
        if command == CMD_SOFT_RESET:
            self._hard_reset()
            return
        if command == CMD_IDLE:
            return
        regs[COMMAND_REG] = (regs[COMMAND_REG] & 0x30) | command
        regs[ERROR_REG] &= ERR_BUFFER_OVFL | ERR_TEMP
        if command == CMD_CALC_CRC:
            self._crc = CRC_PRESETS[regs[MODE_REG] & 0x03]
            self._run_crc()
        elif command == CMD_TRANSMIT:
            self._transmit(expect_answer=False)
        elif command == CMD_TRANSCEIVE:
            self._modem = 0x01  # waiting for StartSend
        elif command == CMD_MF_AUTHENT:
            self._authenticate()
        elif command == CMD_RECEIVE:
            self._modem = 0x04 if self._regs[T_MODE_REG] & 0x80 else self._modem
        else:
            self._finish()  # Mem, GenerateRandomID and unknown commands: done at once

    def _finish(self) -> None:
        """The command terminated by itself: back to Idle with IdleIRq."""
        self._regs[COMMAND_REG] &= 0x30
        self._modem = 0
        self._set_irq(IDLE_IRQ)

    def _run_crc(self) -> None:
        assert self._crc is not None
        self._crc = crc_a(self._fifo, self._crc)
        self._fifo.clear()
        self._fifo_changed()
        self._regs[CRC_RESULT_REG_H] = self._crc >> 8
        self._regs[CRC_RESULT_REG_L] = self._crc & 0xFF
        self._regs[DIV_IRQ_REG] |= CRC_IRQ
        self._update_irq()

    def _transmit(self, *, expect_answer: bool) -> None:
        regs = self._regs
        data = bytes(self._fifo)
        self._fifo.clear()
        self._fifo_changed()
        last_bits = regs[BIT_FRAMING_REG] & 0x07
        if regs[TX_MODE_REG] & 0x80 and last_bits == 0:
            data = with_crc(data)
        self.frames_sent += 1
        answer = None
        if self.field_on and self.card is not None and data:
            answer = self.card.receive(data, last_bits, self._crypto1)
        self._set_irq(TX_IRQ)
        if not expect_answer:
            self._finish()
            return
        self._modem = 0x04  # waiting for the card
        if answer is None:
            if regs[T_MODE_REG] & 0x80:  # TAuto: the timer starts at the end of transmission
                self._start_timer()
            return
        self._later(ANSWER_DELAY_S, lambda: self._receive(*answer))

    def _receive(self, data: bytes, last_bits: int) -> None:
        regs = self._regs
        if regs[RX_MODE_REG] & 0x80 and last_bits == 0:
            if len(data) < 3 or with_crc(data[:-2]) != data:
                regs[ERROR_REG] |= ERR_CRC
                self._regs[COM_IRQ_REG] |= ERR_IRQ
            data = data[:-2]
        for byte in data:
            if len(self._fifo) >= FIFO_SIZE:
                regs[ERROR_REG] |= ERR_BUFFER_OVFL
                self._regs[COM_IRQ_REG] |= ERR_IRQ
                break
            self._fifo.append(byte)
        regs[CONTROL_REG] = (regs[CONTROL_REG] & ~0x07) | last_bits
        self._modem = 0x01  # Transceive waits for the next StartSend
        self._fifo_changed()
        self._set_irq(RX_IRQ)

    def _authenticate(self) -> None:
        data = bytes(self._fifo)
        self._fifo.clear()
        self._fifo_changed()
        if len(data) != 12:
            self._crypto1 = False
            self._set_error(ERR_PROTOCOL)
            self._finish()
            return
        ok = (
            self.field_on
            and self.card is not None
            and self.card.authenticate(data[0], data[1], data[2:8], data[8:12])
        )
        if ok:

            def done() -> None:
                self._crypto1 = True
                self._finish()

            self._later(ANSWER_DELAY_S, done)
            return
        self._crypto1 = False  # a failed authentication switches Crypto1 off (datasheet 9.3.1.9)
        if self._regs[T_MODE_REG] & 0x80:
            self._start_timer()  # MFAuthent does not end by itself when the card is silent
