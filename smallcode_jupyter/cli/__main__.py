"""``python -m smallcode_jupyter.cli``: the ``smallcode`` command without its console script."""

import sys

from .main import main

sys.exit(main())
