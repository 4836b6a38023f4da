"""Benchmarks: each script starts what it measures, loads it over real sockets, prints figures."""
