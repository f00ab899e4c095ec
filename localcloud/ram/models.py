"""RAM state and semantics (stub; see issue 2)."""
import threading
from datetime import datetime, timezone

from ..exceptions import ApiError


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RamBackend:
    def __init__(self, account):
        self.account = account
        self.lock = threading.RLock()
        self.users = {}

    def create_user(self, user_name, display_name=None, comments=None):
        with self.lock:
            if user_name in self.users:
                raise ApiError("EntityAlreadyExists.User", f"The user does already exist: {user_name}", 409)
            user = {"UserName": user_name, "UserId": str(len(self.users) + 1), "DisplayName": display_name or user_name,
                    "Comments": comments or "", "CreateDate": now_iso()}
            self.users[user_name] = user
            return dict(user)

    def get_user(self, user_name):
        with self.lock:
            if user_name not in self.users:
                raise ApiError("EntityNotExist.User", f"The user does not exist: {user_name}", 404)
            return dict(self.users[user_name])

    def minted_credentials(self):
        return []
