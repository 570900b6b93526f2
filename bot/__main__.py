"""`python -m bot` only points to the CLI's entry point, which lives with the edges."""

import sys

print("smsops: run `smsops ...` or `python -m handlers ...` (bot/ is the core)", file=sys.stderr)
sys.exit(2)
