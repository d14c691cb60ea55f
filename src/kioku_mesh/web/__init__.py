"""`kioku-mesh ui`: a local web dashboard, a thin adapter over kioku_mesh.api
(security design: docs/adr/0019-dashboard-security.md)."""
