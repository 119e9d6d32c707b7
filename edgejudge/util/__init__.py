"""Small helpers with no home of their own: byte sizes for people, `tomllib` on every Python."""
