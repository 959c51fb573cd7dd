"""Fabrique station: the domain and the station daemon.

No module here imports Flask, gpiozero, pyserial or another hardware library: hardware and the
web face are handed in as implementations of the small interfaces in :mod:`station.ports`. The
composition roots are the exception, by design: ``station/cli.py`` (the ``station`` command,
which serves :mod:`web.station` and starts the demo) and ``station/wiring.py`` (the backend named
in config, :mod:`hardware` or :mod:`mocks`). ``tests/test_import_graph.py`` checks it.
"""

__version__ = "0.1.0"
