"""Load tests of a deployment: Locust users (locustfile), a headless runner with a summary
(runner), the results store (store) and the results dashboard (dashboard)."""
