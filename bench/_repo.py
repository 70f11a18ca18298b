"""Lets a bench script import `mg_live.engine` / `mg_live.live` straight from this checkout, installed or
not (the GPU machine runs them from a copy of the tree): the repository root is the `mg_live` package."""

import sys
import types
from pathlib import Path

if "mg_live" not in sys.modules:
    package = types.ModuleType("mg_live")
    package.__path__ = [str(Path(__file__).resolve().parents[1])]
    sys.modules["mg_live"] = package
