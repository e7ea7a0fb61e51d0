"""Business logic per resource. No HTTP here: routers call these and shape responses."""
