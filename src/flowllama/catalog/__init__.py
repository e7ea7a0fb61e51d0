"""Model catalog, memory sizing, cloud prices and the cheapest-offer optimizer.

Entry points: ``models.default_catalog()``, ``sizing.estimate_memory()``,
``refresh.current_prices()`` / ``refresh.refresh_prices()`` and ``optimizer.estimate()``;
``docs/pricing.md`` explains the numbers.
"""
