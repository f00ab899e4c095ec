"""KMS wire protocol: parameters in, JSON shaped like the real API out."""
from ..core import Service
from .models import KmsBackend

SERVICE = Service(name="kms", version="2016-01-20", backend_factory=KmsBackend, actions={},
                  include_http_status=True)
