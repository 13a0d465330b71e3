"""``python -m abm`` is the ``abm`` command."""

from abm.cli.app import main

raise SystemExit(main())
