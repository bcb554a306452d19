"""Built-in plugin: routes."""
