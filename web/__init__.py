"""The HTTP faces (Flask): :mod:`web.station` (kiosk, technician page, /api/status, /sim),
:mod:`web.central` (the sync API and the central store's pages), and :mod:`web.common`, what both
use, implemented once. Nothing here imports :mod:`hardware` or :mod:`mocks`; the command lines
build the apps and serve them."""
