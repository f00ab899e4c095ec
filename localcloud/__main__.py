"""``python -m localcloud``: serve RAM + KMS (and the control API) on loopback until interrupted.

Prints one JSON line on stdout, then serves until SIGINT/SIGTERM. With
``--state FILE`` the state is loaded from FILE if it exists and saved after
every change (FILE holds credentials: test data only, mode 0600).
"""
import argparse
import json
import signal
import sys
import threading

from . import LocalCloud
from .holds import DEFAULT_TIMEOUT


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (the printed endpoint says which)")
    parser.add_argument("--access-key-id")
    parser.add_argument("--access-key-secret")
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--account-id", default="1234567890123456")
    parser.add_argument("--account-alias", default="")
    parser.add_argument("--state", metavar="FILE",
                        help="keep state in FILE across restarts (an existing FILE fixes the account and keys)")
    parser.add_argument("--hold-timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds a held call waits for release before it is let go (default {DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)
    try:
        cloud = LocalCloud(access_key_id=args.access_key_id, access_key_secret=args.access_key_secret,
                           region=args.region, account_id=args.account_id, account_alias=args.account_alias,
                           host=args.host, port=args.port, hold_timeout=args.hold_timeout,
                           state_file=args.state).start()
    except OSError as err:      # port in use, address not available, state file unreadable: one line
        where = args.state if getattr(err, "filename", None) else f"{args.host}:{args.port}"
        print(f"python -m localcloud: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"endpoint": cloud.endpoint, "accessKeyId": cloud.access_key_id,
                      "accessKeySecret": cloud.access_key_secret, "region": cloud.region,
                      "accountId": cloud.account_id, "control": cloud.control_endpoint,
                      "stateFile": cloud.state_file}), flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        cloud.stop()        # releases held calls, saves the state one last time
    return 0


if __name__ == "__main__":
    sys.exit(main())
