"""QOINs: development spending in one local DuckDB file.

This package holds the store, the configuration, the refresh core, the command line
and the Textual app. Importing it stays free of Textual so that the headless
``qoins --refresh`` path never loads the UI.
"""

import time

STARTED_AT = time.perf_counter()
"""When the package was first imported; the app logs its start-up time against it."""

__version__ = "0.1.0"
