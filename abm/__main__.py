"""``python -m abm`` is the ``abm`` command."""

from abm.cli import main

raise SystemExit(main())
