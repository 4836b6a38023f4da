"""The HTTP gateway: the documented xuc REST paths, mapped one route to one gRPC call.

No business rule lives here: JSON <-> protobuf, credentials taken from headers, and one table
(errors.py) turning an error's reason into the documented HTTP status and error body.
"""
