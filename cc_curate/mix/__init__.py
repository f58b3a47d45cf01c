"""``cc-curate mix``: from published releases to a budgeted, quality-sampled training mix (docs/mixing.md).

``budgets`` decides how much of each language, ``sampling`` which documents (exactly, by seeded
Gumbel keys), ``inputs`` reads the releases, ``execution`` runs the rounds on Ray, ``card`` writes
mix.json, the dataset card, the dry-run estimate and the tau chart. ``run`` ties them together on Ray.
"""
