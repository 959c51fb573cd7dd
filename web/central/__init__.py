"""The central store's web app (Flask): the sync API for stations (OpenAPI), and the pages for
people: login, fleet dashboard, roster admin, reports, the programme report, a member's data.

:func:`web.central.app.create_central_app` builds it around a store; the ``station-central run``
command serves it. Templates and static files live beside it.
"""
