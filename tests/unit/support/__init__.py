"""Helpers for the unit tests only: pure code, no servers."""
