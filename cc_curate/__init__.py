"""cc_curate: Common Crawl to per-language pretraining Parquet, FineWeb2-style, on Ray."""

__version__ = "0.1.0"
