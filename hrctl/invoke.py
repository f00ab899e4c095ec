"""``python -m hrctl.invoke``: the same as ``hrctl invoke`` (kept for existing scripts), and the
two helpers the demo uses (``target``: a fresh in-process localcloud; ``call``: one handler call).

    hrctl invoke onboarding examples/events/direct.json --envelope http
    hrctl invoke offboarding --envelope timer --dry-run
    hrctl invoke onboarding --csv employees.csv [--dry-run]
"""
import contextlib
import os
import sys
import uuid

from . import ROOT, route_function_logs  # noqa: F401 - ROOT puts functions/ on sys.path


@contextlib.contextmanager
def target(real, alias="corp"):
    """Yield the started localcloud (None with ``real``), the function's environment aimed at it."""
    if real:
        yield None
        return
    from localcloud import LocalCloud
    saved = dict(os.environ)
    with LocalCloud(account_alias=alias) as cloud:
        os.environ.update(cloud.function_env())
        os.environ.setdefault("WEBHOOK_SIGNING_KEY", "local-demo-" + uuid.uuid4().hex)
        os.environ["ACCOUNT_ID"] = cloud.account_id
        from provisioner.platform import runtime

        from .target import set_up_groups
        runtime.reset()
        set_up_groups(cloud, runtime.settings().groups)
        try:
            yield cloud
        finally:
            os.environ.clear()
            os.environ.update(saved)
            runtime.reset()


def call(function, payload_bytes):
    import importlib
    handler = importlib.import_module(function).handler
    return handler(payload_bytes, None)


def main(argv=None):
    from .cli import main as hrctl_main
    return hrctl_main(["invoke", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
