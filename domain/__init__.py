"""The discussions domain: aggregates, their events, rules and the application service.

Knows nothing of Flask, RQ, Redis or marshmallow (checked by import-linter in the tests).
"""
