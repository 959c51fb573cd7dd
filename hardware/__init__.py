"""Real drivers behind the ports of :mod:`station.ports`.

Each vendor library (gpiozero, mfrc522, pyserial, minimalmodbus) is imported inside the one module
that needs it, when a driver is built, so this package imports on any laptop.
"""
