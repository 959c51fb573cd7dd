"""A register-level MFRC522 behind a fake ``spidev.SpiDev``, with virtual MIFARE Classic cards.

Why: the RFID driver must be tested without a Pi, and a fake that only answers "UID = X" would
not catch the bugs that matter on real hardware (a wait loop that ignores the timer interrupt, a
missing cascade level, a card left in the wrong ISO 14443-3 state). So this emulates the chip the
way the datasheet (NXP MFRC522 rev. 3.9) describes it, as seen from the SPI bus:

- SPI framing: address byte ``(reg << 1) & 0x7E`` with bit 7 set for a read; one transfer may read
  several registers (``[a1|0x80, a2|0x80, ..., 0]``) or write several bytes to one register
  (``[a, d1, d2, ...]``, how the FIFO is filled in one go).
- the 64-byte FIFO and ``FIFOLevelReg`` (flush, overflow), ``ComIrqReg``/``DivIrqReg`` with the
  Set1/Set2 write convention, ``ErrorReg``, ``Status1Reg`` and ``Status2Reg`` (ModemState,
  MFCrypto1On), ``ControlReg.RxLastBits``, ``BitFramingReg`` (StartSend, TxLastBits);
- the commands Idle, CalcCRC (the CRC coprocessor with ``ModeReg`` presets), Transmit, Transceive,
  MFAuthent and SoftReset; the timer (prescaler and reload registers, ``TAuto``) that raises
  ``TimerIRq`` when no card answers; the antenna switch (cards lose power when it is off); the
  NRSTPD reset line and the IRQ pin (inverted / open-drain as configured);
- cards (:class:`VirtualCard`) with 4-, 7- or 10-byte UIDs and the ISO 14443-3 states (IDLE, READY,
  ACTIVE, HALT and their "*" twins): REQA/WUPA, anticollision and select at every cascade level,
  HLTA; MIFARE Classic 1K authentication with key A or B (checked against the sector trailer),
  block read and write under the access bits.

Not emulated: Crypto1 itself (the SPI side only ever sees plaintext, so the emulator keeps a flag
for "the link is encrypted" on both ends and a mismatch garbles the frame, as it would on the
air), several cards in the field at once (so no collisions), bit-oriented anticollision frames,
value blocks, the Mem/RandomID/Receive commands and the analogue registers (stored, not acted on).

Time: with ``clock=None`` the chip answers instantly (a card's answer or the timer's expiry is
visible on the next register read), which keeps transfer counts exact and tests free of sleeps.
With a clock, answers become visible after a realistic delay and the timer expires after the
period its registers give, so a driver's wait loop can be exercised against time.

Example::

    chip = Mfrc522Chip()
    chip.place(VirtualCard(bytes.fromhex("04A1B2C3")))
    spi = FakeSpiDev(chip)
    with stock_mfrc522(chip) as mfrc522:      # the unmodified PyPI package, on this chip
        print(mfrc522.SimpleMFRC522().read_id_no_block())

One job a file: :mod:`.frames` (ISO 14443-3 commands and checksums), :mod:`.card` (the MIFARE
Classic card), :mod:`.chip` (the MFRC522's registers, FIFO and commands), :mod:`.spi` (the fake
SPI bus), :mod:`.modules` (fake ``spidev``/``RPi.GPIO`` for the stock package) and :mod:`.badges`
(cards for the anti-clone check, the driver on an emulated chip). ``mocks.mfrc522_chip`` re-exports
them all for older imports.
"""
