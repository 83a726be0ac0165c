import sys

from runtime.executor.server import main

sys.exit(main())
