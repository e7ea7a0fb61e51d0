"""Allow ``python -m flowllama``."""

from flowllama.cli import main

main()
