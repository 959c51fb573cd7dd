"""Fabrique station: the domain and the station daemon.

Nothing in this package imports Flask, gpiozero, pyserial or a hardware library: hardware and the
web face are handed in as implementations of the small interfaces in :mod:`station.ports`.
"""

__version__ = "0.1.0"
