"""The ownership marker is parsed strictly: anything but our exact format is not ours."""
from provisioner.domain import ownership


def test_marker_round_trip_and_strict_end():
    marker = ownership.Marker(employee_id="E1")
    assert ownership.parse(marker.render()) == marker
    assert ownership.parse(marker.render() + "\n") is None
    assert ownership.parse("hrrp:v1;emp=E1;st=bogus") is None
    assert ownership.parse("created by hand; hrrp:v1;emp=E1") is None
