"""Benchmarks of the Routines service: `make bench` runs them all and writes bench/RESULTS.md."""
