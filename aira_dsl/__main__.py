"""``python -m aira_dsl`` runs the command line."""

from aira_dsl.cli import main

main()
