"""The xuc services: each one its own process, its own tables, a gRPC API and NATS events."""
