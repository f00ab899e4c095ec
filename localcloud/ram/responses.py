"""RAM wire protocol: parameters in, JSON shaped like the real API out."""
from ..core import Service
from .models import RamBackend


def create_user(backend, p):
    return {"User": backend.create_user(p.required("UserName"), p.get("DisplayName"), p.get("Comments"))}


def get_user(backend, p):
    return {"User": backend.get_user(p.required("UserName"))}


SERVICE = Service(name="ram", version="2015-05-01", backend_factory=RamBackend,
                  actions={"CreateUser": create_user, "GetUser": get_user})
