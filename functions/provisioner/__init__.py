"""Library shared by the onboarding and offboarding functions (docs/architecture.md).

    adapters/   what FC hands us → events: trigger envelopes, webhook signatures, validation
    domain/     rules without cloud calls: ownership marker, lifecycle, access, credentials, results
    workflows/  onboarding, offboarding (leaver), sweep: plans of steps, executed or dry-run
    cloud/      SDK clients and retry, error codes, the secret store, the directory of managed users
    platform/   settings, the per-instance runtime, structured logging, the clock
    app.py      the one path of every invocation: decode, validate, run, answer

Importing it (or the handlers) must stay cheap: the SDKs are imported lazily
in ``cloud.clients`` so that rejecting an invalid event never pays for them.
"""
