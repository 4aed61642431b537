"""Benchmarking, one fresh process per row: `sweep` plans a `spec.RowSpec` per row (`targets` names what is measured)
and runs `worker`, which times it (`harness`, `stats`; `texts` for text to answer) and writes a typed `rows.Row` to
JSONL; `export_worker` exports a suite's bundles. Nothing here imports the report, the suite or the CLI."""
