import sys

from capplan.pipelines.cli import main

sys.exit(main())
