"""Real drivers behind the ports of :mod:`station.ports`.

Each vendor library is imported inside the one module that needs it, when a driver is built, so
this package imports on any laptop: gpiozero in ``gpio.py``, spidev in ``mfrc522_reader.py``,
pyserial in ``serial_link.py``, minimalmodbus in ``pzem.py`` (``tests/test_import_graph.py``).
Chosen by name from config (``backend = "pi"``) by ``station/wiring.py``.
"""
