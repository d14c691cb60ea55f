"""The mesh node: replication of the host store over Eclipse Zenoh.

Only `node.py` imports zenoh; the rest is plain Python over the store, so
the CLI and tests can use it without the network stack.
"""
