"""The cost autopilot (``docs/autopilot.md``): periodic tasks that keep cost a running concern
after a deployment is created. Each task decides from the database and acts by changing a
deployment's desired state or spec and nudging the agent; the agent does the work."""
