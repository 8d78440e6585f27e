"""Fault-injection tests: kill -9, database and cache outages, hanging peers, auth review."""
