"""Model-based quality: train fastText classifiers per language, score, bucket and filter.

One module per job: ``text`` (what a model reads), ``examples`` (labelled training data),
``train`` (fit, hold out, measure), ``card`` (the model card), ``scoring`` (scores for
documents), ``buckets`` (percentile buckets over a whole language), ``decisions`` (threshold
rules), ``stage`` (the stage declaration). docs/quality.md is the user's guide.
"""
