"""The webhooks process's own HTTP endpoint: its metrics and health."""
