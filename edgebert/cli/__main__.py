"""`python -m edgebert.cli ...` (the efficiency suite's isolated exports run the CLI this way)."""
from edgebert.cli import main

main()
