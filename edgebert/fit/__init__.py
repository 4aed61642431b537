"""`edgebert fit`: from a device budget (p95 latency on the user's texts, size, memory, retention) to the one bundle
that meets it, with the evidence. Cost first (random weights, fresh-process bench rows on the target), training last
(cheapest first, successive halving), resumable; torch and runtimes are imported inside functions."""
