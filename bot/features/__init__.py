"""Features built on the engine's extension points (actions, placeholders, handlers)."""
