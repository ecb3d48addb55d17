"""``python -m <this package>`` entry point."""

from .server import main

raise SystemExit(main())
