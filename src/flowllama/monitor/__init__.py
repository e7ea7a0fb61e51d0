"""The health monitor: checks every serving instance, marks what is broken, asks for healing.

See ``docs/monitor.md``.
"""
