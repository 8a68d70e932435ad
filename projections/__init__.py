"""Read models built from the event log, and the engine that keeps them up to date."""
