"""What both web apps share, implemented once: CSRF (``csrf``), the session cookie and secret key
(``sessions``), logging in through the limiter (``login``), the language and the catalogs
(``i18n``), JSON errors (``errors``), size limits and the stream cap (``limits``), French numbers
and local times (``format``), and the templates both page layouts include (``layout``)."""
