"""The station's web app (Flask): the kiosk, the technician page, ``/api/status`` and the event
stream, and the ``/sim`` panel on the mock backend.

:func:`web.station.app.create_app` builds it around a running controller; the ``station run``
command serves it. Templates and static files live beside it.
"""
