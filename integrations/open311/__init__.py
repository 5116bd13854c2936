"""Open311 GeoReport v2: apps post service requests that become cases, and read them back with their status.

`views.setup(app)` mounts it at /open311/; `actions.create_client(pool, name)` issues an API key.
"""
