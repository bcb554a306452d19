"""Runnable examples of the LLM router (conduit-router); each runs offline."""
