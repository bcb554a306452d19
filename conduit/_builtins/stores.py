"""Built-in plugin: stores."""
