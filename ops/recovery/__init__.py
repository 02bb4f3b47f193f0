"""What `make up/preview/destroy/refresh` do around Pulumi so that an interrupted deploy loses and orphans
nothing: stale locks of dead processes (locks.py), objects the state never learned about (orphans.py), and
the guard that runs both before and after each command (guard.py)."""
