"""Vendor libraries other than hardware, behind protocols that ``central/`` defines.

Like ``hardware/``, each module here imports its library and nothing else does; the composition
roots import them by name from config (``central/wiring.py``).
"""
