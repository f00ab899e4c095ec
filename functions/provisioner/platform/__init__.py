"""What every invocation stands on: settings, the per-instance runtime, structured logging, the clock."""
