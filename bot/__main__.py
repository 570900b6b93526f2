"""`python -m bot` runs the smsops CLI."""

import sys

from bot.cli import main

sys.exit(main())
