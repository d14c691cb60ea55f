"""Core: models, keyspace, config, identity, errors. Imports nothing else of ours."""
