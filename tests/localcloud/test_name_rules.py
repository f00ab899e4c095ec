"""Name rules end where the string ends: Python's ``$`` also matches before a final newline,
the services' rules do not, and neither do Unicode digits count as digits."""
import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_ram20150501 import models as rm


def _code(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value.code


@pytest.mark.parametrize("name", ["bob\n", "bob\r\n", "bo b"])
def test_user_name_with_trailing_newline_is_refused(ram, name):
    assert _code(lambda: ram.create_user(rm.CreateUserRequest(user_name=name))) == (
        "InvalidParameter.UserName.InvalidChars")


def test_mobile_phone_with_unicode_digits_is_refused(ram):
    assert _code(lambda: ram.create_user(rm.CreateUserRequest(
        user_name="bob", mobile_phone="86-\u0661\u0662\u0663\u0664\u0665"))).startswith("InvalidParameter")


def test_secret_name_with_trailing_newline_is_refused(kms):
    assert _code(lambda: kms.create_secret(km.CreateSecretRequest(
        secret_name="ram-user/bob\n", secret_data="x", version_id="v1"))) == "InvalidParameter"

