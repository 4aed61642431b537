"""Benchmarking: a harness (warm-up, timed runs, percentiles), one worker process per row, JSONL rows."""
