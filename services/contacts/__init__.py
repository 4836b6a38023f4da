"""Contacts service: personal contacts and call qualifications (to come: issue "Contacts service").

It already runs as its own process in the shared frame (health, reflection, graceful shutdown),
so the launcher, compose file and tests treat it like the others.
"""
