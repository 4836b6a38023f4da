"""Telephony service: the PBX side (to come: issue "Telephony service").

It already runs as its own process in the shared frame (health, reflection, graceful shutdown),
so the launcher, compose file and tests treat it like the others.
"""
