"""The Faust app: topics, agents and changelog-backed tables around the pure SLI engine."""
