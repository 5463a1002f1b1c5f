import sys

from imaging.radiomics.cli import main

sys.exit(main())
