"""HTTP building blocks: requests, responses, routing, middleware (the seed's import paths)."""
