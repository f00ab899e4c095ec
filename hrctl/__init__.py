"""The operator's tools (never deployed): the ``hrctl`` CLI, the local invoker and the demo."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
for _path in (FUNCTIONS, ROOT):          # the functions' package, and localcloud beside hrctl
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def route_function_logs(write):
    """Send the functions' JSON log lines to ``write`` (a callable) instead of stdout, so
    results printed on stdout stay machine-readable. Returns a callable that restores."""
    from provisioner.platform import log as structured_log
    handler = structured_log.logger.handlers[0]
    original = handler.emit

    def emit(record):
        write(handler.format(record) + "\n")

    handler.emit = emit
    return lambda: setattr(handler, "emit", original)
