"""Open Badges 3.0 credentials: a trainee's level, signed by the fablab, checkable by anyone.

``keys`` (the fablab's signing keys, files under the data dir), ``jws`` (compact JWS, EdDSA),
``openbadge`` (the credential itself), ``status_list`` (revocation), ``baking`` (the badge
image that carries the credential), ``verify`` (what the public page answers), ``consent`` and
``issue`` (the rules for issuing), ``storage`` (their SQLite tables).
"""
