"""The ASGI application: health, readiness and (later) the Convex HTTP and sync APIs."""
