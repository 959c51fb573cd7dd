"""What both web apps share, implemented once: size limits, strict JSON, the login limiter,
safe redirects and the cap on open event streams."""
