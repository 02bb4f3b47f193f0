"""The real servers for tests and measurements: fetched once (deps.sh), started on loopback (servers.py)."""
