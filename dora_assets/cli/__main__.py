"""`python -m dora_assets.cli`: the `dora-assets` command, for when the console script is not on PATH."""

import sys

from dora_assets.cli import main

sys.exit(main())
