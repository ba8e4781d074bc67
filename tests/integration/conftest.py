"""The integration tests share preflight_testing.py (so does the Molecule guard scenario)."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
