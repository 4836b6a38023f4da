"""Contacts service: each user's personal contacts (CRUD, search, CSV import and export) and call
qualifications per queue (provisioned, answered, exported).

Layers as folders: domain (contacts and qualification rules, the CSV parser and writer, no
infrastructure), service_layer (the use cases, the per-owner read cache), adapters (SQL, phone
statuses asked of telephony, events), entrypoints (the two gRPC services). `__main__` composes them.
"""
