"""Built-in plugin: commands."""
