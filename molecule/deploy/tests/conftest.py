import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources", "tests"))
# The repository root, for the helpers the unit tests share (tests/webhook_listener.py).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
