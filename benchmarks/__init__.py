"""Benchmarks for the predict path (`make bench`): warm latency, cold start and sizes.

Everything is measured side by side in one run and reported as ratios, because the machines
this project runs on are small and shared: absolute microseconds drift from run to run, the
ratio between variants measured in the same interleaved rounds does not (see README.md here).
"""
