"""Private CA and peer certificates for mutual TLS between mesh nodes.

Mesh layer: imports core only. `pki` (and `certs`) import `cryptography`;
`layout`, `blocks` and `node_config` do not, so callers that only need paths
or the Zenoh block stay cheap.
"""
