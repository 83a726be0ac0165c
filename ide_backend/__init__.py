"""Tide's IDE server: serves a workspace of procedures, runs them, relays their events."""
