"""Load test of the served app (issue 8, section 3): ``python -m benchmarks.load``.

See benchmarks/load/README.md. The statistics (benchmarks.load.stats) have no dependency and
are tested in tests/benchmarks_load/.
"""
