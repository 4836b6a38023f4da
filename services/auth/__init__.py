"""Auth service: users, password login, tokens (issue, check/refresh), public keys for verification.

Layers as folders: domain (rules, no infrastructure), service_layer (use cases), adapters
(SQL, signing keys, password hashing, NATS), entrypoints (gRPC). `__main__` composes them.
"""
