"""A tutorial-style Channels chat with no storage: the benchmarks' baseline (bench/README.md)."""
