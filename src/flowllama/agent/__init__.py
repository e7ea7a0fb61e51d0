"""The deployment agent: level-triggered reconcile of desired vs observed state."""
