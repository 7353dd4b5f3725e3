"""Features built on the engine's extension points: the contact log, plan and check-ins."""
