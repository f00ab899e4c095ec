"""Developer tools (never deployed): the local invoker and the demo."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))


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
