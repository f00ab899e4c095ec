"""What FC hands a function, turned into events: trigger envelopes, webhook signatures, validation."""
