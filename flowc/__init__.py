"""flowc: a compiled language for orchestrating HTTP APIs.

The Python API is loaded lazily so that importing ``flowc`` (and starting the
``flowc`` command) stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
