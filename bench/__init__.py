"""The benchmark harness of framestate: `make bench` (see docs/benchmarks.md)."""
