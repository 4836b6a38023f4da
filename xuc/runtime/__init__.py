"""What every process shares: settings, logs, the gRPC server frame, NATS, the database."""
