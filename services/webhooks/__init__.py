"""The webhook delivery: events from NATS POSTed to the event URL (`python -m services.webhooks`)."""
