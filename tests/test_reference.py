"""The vendored reference data: present, intact, and the same bytes as its upstream in ../shared."""
import json

import pytest

from tests.reference import FC3_SCHEMA, HERE, KMS_META, RAM_META, SHARED, VENDORED


@pytest.mark.parametrize("rel", VENDORED)
def test_vendored_copy_is_the_shared_one(rel):
    shared = SHARED / rel
    if not shared.exists():
        pytest.skip(f"no {shared} next to this clone: the vendored copy is all there is")
    assert (HERE / rel).read_bytes() == shared.read_bytes(), f"tests/reference/{rel} differs from {shared}"


@pytest.mark.parametrize("rel", VENDORED)
def test_vendored_copy_is_attributed(rel):
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert f"`{rel}`" in readme and "MIT" in readme, f"tests/reference/README.md does not attribute {rel}"


def test_openapi_meta_has_every_action_and_its_responses():
    for path, product in ((RAM_META, "Ram"), (KMS_META, "Kms")):
        meta = json.loads(path.read_text(encoding="utf-8"))
        assert meta["info"]["product"] == product, path
        assert len(meta["apis"]) > 50, path
        assert all("responses" in api for api in meta["apis"].values()), path


def test_fc3_schema_is_a_draft7_schema():
    from jsonschema import Draft7Validator
    schema = json.loads(FC3_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    assert {"region", "functionName", "runtime", "handler", "code", "triggers"} <= set(schema["properties"])
