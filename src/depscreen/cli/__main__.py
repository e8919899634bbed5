"""`python -m depscreen.cli`."""

from depscreen.cli import main

main()
