"""An exception inside an emulator backend is answered like the real gateway's InternalError."""
import pytest
from alibabacloud_ram20150501 import models as rm

from localcloud.core import INTERNAL_ERRORS


def test_backend_exception_becomes_internal_error_500(cloud, ram, mocker):
    mocker.patch.object(type(cloud.ram), "get_user", side_effect=KeyError("boom"))
    before = len(INTERNAL_ERRORS)
    with pytest.raises(Exception) as info:
        ram.get_user(rm.GetUserRequest(user_name="alice"))
    assert info.value.code == "InternalError"
    assert info.value.status_code == 500
    assert INTERNAL_ERRORS[before:] == ["GetUser: KeyError: 'boom'"]
    assert [(c.action, c.status, c.code) for c in cloud.calls] == [("GetUser", 500, "InternalError")]
    del INTERNAL_ERRORS[before:]   # handled: this test caused it on purpose
