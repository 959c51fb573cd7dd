"""The central store: ingest of station events, roster master, reports (see issue 6)."""
