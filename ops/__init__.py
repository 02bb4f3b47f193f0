"""What an operator runs beside `pulumi up`: render, verify, policy, promote (the Makefile's targets)."""
