"""One module per section of the REST API; each route is one gRPC call."""
