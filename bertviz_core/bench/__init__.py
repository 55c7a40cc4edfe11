"""Benchmarks that print figures: ``figures`` (the explorer, a real build, training against the
machine's matrix-product peak) and ``room`` (a workshop on one server)."""
