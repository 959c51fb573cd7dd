"""The station's HTTP face (Flask): status API, server-sent events, the simulator API."""
