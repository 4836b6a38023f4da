"""Pure rules of the webhook delivery: the bodies, the retry schedule, the per-user lanes."""
