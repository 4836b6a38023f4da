"""Credentials every component checks locally: user tokens (JWT) and the service token."""
