"""``python -m localcloud``: serve RAM + KMS on loopback until interrupted."""
import argparse
import json
import sys
import threading

from . import LocalCloud


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-key-id")
    parser.add_argument("--access-key-secret")
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--account-id", default="1234567890123456")
    parser.add_argument("--account-alias", default="")
    args = parser.parse_args(argv)
    cloud = LocalCloud(access_key_id=args.access_key_id, access_key_secret=args.access_key_secret,
                       region=args.region, account_id=args.account_id,
                       account_alias=args.account_alias, host=args.host, port=args.port).start()
    print(json.dumps({"endpoint": cloud.endpoint, "accessKeyId": cloud.access_key_id,
                      "accessKeySecret": cloud.access_key_secret, "region": cloud.region,
                      "accountId": cloud.account_id}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
