"""Helpers shared by the integration tests and the benchmarks."""


def opened(app, value):
    """The plaintext of a sealed value (domain/sealing.py) read from an event, an aggregate
    or a raw read-model row; plaintext (stores written before sealing) is itself."""
    if value is None or getattr(app, "opener", None) is None:
        return value
    return app.opener.open(value)
