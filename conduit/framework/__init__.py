"""The production kit: errors, monitoring, security, edge cases (the seed's import paths)."""
