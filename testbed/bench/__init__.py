"""Benchmarks: the program's own overhead, a real deploy against Helm and kubectl, the servers' size."""
