"""Rules without cloud calls: ownership marker, lifecycle, access, credentials, results."""
