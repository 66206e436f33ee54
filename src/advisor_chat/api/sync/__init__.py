"""Convex's sync protocol over WebSocket: the wire messages (`protocol`) and the route that
carries them (`route`). A client's live state is `live.session.Session`."""
