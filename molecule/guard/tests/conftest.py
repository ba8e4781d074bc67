import os
import sys

HERE = os.path.dirname(__file__)
# The scenarios' shared helpers, and the preflight tests' checkouts and runs.
sys.path.insert(0, os.path.join(HERE, "..", "..", "resources", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "integration"))
