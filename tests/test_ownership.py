"""The ownership marker is parsed strictly: anything but our exact format is not ours."""
from provisioner.domain import ownership


def test_marker_round_trip_and_strict_end():
    marker = ownership.Marker(employee_id="E1")
    assert ownership.parse(marker.render()) == marker
    assert ownership.parse(marker.render() + "\n") is None
    assert ownership.parse("hrrp:v1;emp=E1;st=bogus") is None
    assert ownership.parse("created by hand; hrrp:v1;emp=E1") is None


# -- where mutants survived (issue 15) ----------------------------------------------------------------
def test_a_marker_that_is_not_a_valid_date_is_not_ours_and_never_raises():
    for text in ("hrrp:v1;emp=E1;st=active;end=2027-13-01", "hrrp:v1;emp=E1;st=active;leave=2027-02-30",
                 "hrrp:v1;emp=E1;st=disabled;at=2026-11-28T25:00:00Z", "hrrp:v1;emp=E1;st=disabled;at=2026-11-28"):
        assert ownership.parse(text) is None, text


def test_only_the_fields_of_its_state_are_written():
    """An active marker carries its dates, a disabled one its time: never the other state's fields."""
    from datetime import date, datetime, timezone
    at, day = datetime(2026, 11, 28, 10, tzinfo=timezone.utc), date(2027, 6, 30)
    active = ownership.Marker("E1", state=ownership.ACTIVE, end_date=day, leave_date=day, disabled_at=at)
    assert active.render() == "hrrp:v1;emp=E1;st=active;end=2027-06-30;leave=2027-06-30"
    disabled = ownership.Marker("E1", state=ownership.DISABLED, end_date=day, leave_date=day, disabled_at=at)
    assert disabled.render() == "hrrp:v1;emp=E1;st=disabled;at=2026-11-28T10:00:00Z"


def test_a_secret_is_ours_only_with_exactly_our_tags():
    def tags(managed_by, employee):
        return [{"TagKey": "managed-by", "TagValue": managed_by}, {"TagKey": "employee-id", "TagValue": employee}]
    assert ownership.secret_owned_by(tags("hr-ram-provisioner", "E5"), "E5")
    for managed_by, employee in [("hr-ram-provisioner", "E4"), ("hr-ram-provisioner", "E6"),
                                 ("hr-ram-provisioner", "E50"), ("aa-other-tool", "E5"), ("zz-other-tool", "E5"),
                                 ("hr-ram-provisioner-x", "E5"), (None, "E5"), ("hr-ram-provisioner", None)]:
        assert not ownership.secret_owned_by(tags(managed_by, employee), "E5"), (managed_by, employee)
    assert not ownership.secret_owned_by(None, "E5") and not ownership.secret_owned_by([], "E5")


def test_a_parsed_marker_renders_back_to_the_same_text():
    for text in ("hrrp:v1;emp=E1;st=disabled;at=2026-11-28T10:00:00Z",
                 "hrrp:v1;emp=E1;st=active;end=2027-06-30;leave=2027-01-15"):
        assert ownership.parse(text).render() == text


def test_a_user_is_ours_for_its_own_employee_only():
    user = {"Comments": "hrrp:v1;emp=E5;st=active"}
    assert ownership.owned_by(user, "E5") == ownership.Marker("E5")
    assert ownership.owned_by(user) == ownership.Marker("E5")
    assert [e for e in ("E4", "E6", "E50", "E") if ownership.owned_by(user, e) is not None] == []
    assert ownership.owned_by(None, "E5") is None and ownership.owned_by({"Comments": "made by hand"}) is None


def test_a_marker_is_a_value():
    import dataclasses

    import pytest
    a, b = ownership.Marker("E1"), ownership.parse("hrrp:v1;emp=E1;st=active")
    assert a == b and len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.state = ownership.DISABLED
