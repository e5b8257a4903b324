"""``python -m ls_frames.frontends.cli``: the same as ``ls-frames``."""

import sys

from ls_frames.frontends.cli import main

sys.exit(main())
