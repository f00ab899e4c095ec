"""Alibaba Cloud: SDK clients and retry, error codes, the secret store, the directory of managed users."""
