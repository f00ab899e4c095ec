"""Onboarding, offboarding (a leaver) and the sweep: reads, plans of steps, execution."""
