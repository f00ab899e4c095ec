"""KMS Secrets Manager state and semantics (stub; see issue 2)."""
import threading


class KmsBackend:
    def __init__(self, account):
        self.account = account
        self.lock = threading.RLock()
        self.secrets = {}

    def minted_credentials(self):
        return []
