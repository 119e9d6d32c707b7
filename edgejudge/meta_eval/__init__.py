"""Meta-evaluation: how well a judge agrees with people's labels.

Pure (no I/O): `labels`, `statistics`, `baselines`, `evaluation`, `report`. Files and judging:
`run` (`meta_evaluate`), `html` (the self-contained page)."""
