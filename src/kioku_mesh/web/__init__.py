"""`kioku-mesh ui`: a local web dashboard, a thin adapter over kioku_mesh.api
(security design: docs/adr/0023-dashboard-security.md)."""
