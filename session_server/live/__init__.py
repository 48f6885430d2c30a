"""The live side of a session: its state, projections, feeds and the WebSocket hub."""
