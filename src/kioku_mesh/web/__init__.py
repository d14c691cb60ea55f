"""`kioku-mesh ui`: a local web dashboard, a thin adapter over kioku_mesh.api
(security design: docs/adr/0022-dashboard-security.md)."""
