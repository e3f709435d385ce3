"""``python -m benchmarks [NAME ...] [--force] ...``: see :mod:`benchmarks.runner`."""

import sys

from benchmarks.runner import main

sys.exit(main())
