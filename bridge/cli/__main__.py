"""`python -m bridge.cli`: how `bridge dev` and the tests start the pieces."""

from bridge.cli import main

main()
