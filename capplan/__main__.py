import sys

from capplan.cli import run

sys.exit(run())
