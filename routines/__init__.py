"""The `routines` command and the tooling around the service: the local stack, packaging, request metering.

Nothing here is deployed: Chalice packages `app.py` and `chalicelib/` only.
"""
