"""Background work: RQ job functions, the in-process runner, and the operator CLI."""
