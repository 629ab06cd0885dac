"""``python -m aecrypt.cli``: the command line in a fresh process."""

from aecrypt.cli.main import main

raise SystemExit(main())
