"""The user's files: bounded reads, checked outputs, atomic writes, metric TOML files."""
