"""`python -m stylelab.book build|execute|check` = `stylelab book ...`."""

import sys

from stylelab.cli import main

sys.exit(main(["book", *sys.argv[1:]]))
