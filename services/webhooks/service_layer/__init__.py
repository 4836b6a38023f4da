"""The delivery itself: per-user lanes, at-least-once, dead letters; over ports (ports.py)."""
