"""The central store on PostgreSQL: a network of fablabs, several central processes.

The SQL lives here, one module per concern mirroring ``central/sqlite/``, written against the
small driver protocols of :mod:`central.pg.db`; ``adapters/postgresql.py`` implements them with
psycopg (the one module that imports it).
"""
