"""The same ports as ``hardware/``, faked at the lowest level we can reach.

gpiozero runs on its own MockFactory, the RFID driver talks to an emulated MFRC522 chip behind a
fake SPI bus, serial drivers talk to emulated devices on a pty. Used by the tests and the demo,
chosen by name from config (``backend = "mock"``) by ``station/wiring.py``.
"""
