"""Cross-shard, per-language MinHash dedup and FineWeb2 rehydration.

* ``hashing``     band keys, exact-text keys, partition numbers (vectorised, 64-bit)
* ``parts``       shuffle files on fsspec: one file per task, one row group per partition, atomic
* ``graph``       star edges per key; Large-Star / Small-Star connected components
* ``keep``        the keep rule (earliest date, then smallest id) and cluster sizes
* ``index``       the persistent band index for incremental dedup across releases
* ``steps``       the task bodies; ``cc_curate.runtime.dedup`` runs them on Ray
* ``rehydration`` FineWeb2's upsampling weights from cluster sizes
"""
