"""The central store: ingest of every station's events, the roster master, the fleet, reports.

Pure like :mod:`station`, on which it builds: no Flask, no hardware. Its composition roots are
``central/cli.py`` (the ``station-central`` command, which serves :mod:`web.central`) and
``central/demo.py`` (``station demo``: a central store and three stations, each its own process).
"""
