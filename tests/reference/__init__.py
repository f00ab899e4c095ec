"""Vendored reference data (see README.md beside this file): the copies every test reads.

``../shared/reference/`` (next to the clone, on the project's own machines) is the upstream of
these files; when it is there, ``tests/test_reference.py`` checks the copies are byte-identical.
No test reads the shared copy itself: a clone anywhere runs the same tests.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = ROOT.parent / "shared" / "reference"

FC3_SCHEMA = HERE / "fc3" / "fc3-props.schema.json"
OPENAPI_META = HERE / "openapi-meta"
RAM_META = OPENAPI_META / "ram-2015-05-01.json"
KMS_META = OPENAPI_META / "kms-2016-01-20.json"

# every vendored file, as a path relative to this directory (and to ../shared/reference)
VENDORED = ("fc3/fc3-props.schema.json", "openapi-meta/ram-2015-05-01.json", "openapi-meta/kms-2016-01-20.json")
