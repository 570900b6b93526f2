"""`python -m handlers` runs the smsops CLI (the same as the `smsops` console script)."""

import sys

from handlers.entry import main

sys.exit(main())
