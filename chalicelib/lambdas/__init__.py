"""The tick, the dispatcher and the wake reader as Lambda handlers: raw events in, no Chalice, no API.

app.py declares these functions with Chalice's decorators, since Chalice generates their functions, roles,
schedule and event source mappings from them, and its handlers delegate here. The packaged template points each
function's `Handler` at its own module here instead (`routines package`), so on AWS each imports what it uses:
not app.py, the API's blueprints or pydantic, nor another function's services (the tick's scheduler is not the
wake reader's HTTP client).

This package is a composition root, like app.py: the environment is read here, once, unless the process
configured itself first (the local stack, the tests). Python runs it before any of its modules.
"""

import os

from chalicelib import runtime
from chalicelib.settings import load_settings

SETTINGS = runtime.configured() or runtime.configure(load_settings(os.environ))
