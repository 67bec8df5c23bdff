import sys

from callcenter.cli import main

sys.exit(main())
