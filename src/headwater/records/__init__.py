"""The record store: every run, file, version and reject is a row (DESIGN.md decision 3)."""

from headwater.records.store import RecordStore, now_iso

__all__ = ["RecordStore", "now_iso"]
